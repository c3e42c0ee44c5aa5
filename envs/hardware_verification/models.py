"""Cycle-accurate reference models of the designs, written from their specifications.

Each model is a Moore machine: `outputs()` is what the design shows during a cycle, `step(inputs)` is the
rising edge at the end of it. Before the first reset the state is unknown and `outputs()` returns None
(don't care). The hidden regression checks RTL against these models, and tests check the golden RTL
against them, so a slip in either shows up as a disagreement.
"""

from __future__ import annotations

from typing import Protocol


class Model(Protocol):
    inputs: tuple[str, ...]
    outputs_order: tuple[str, ...]

    def outputs(self) -> dict[str, int] | None: ...

    def step(self, inputs: dict[str, int]) -> None: ...


def clog2(value: int) -> int:
    return 0 if value <= 1 else (value - 1).bit_length()


class FifoModel:
    """sync_fifo: registered read data, writes into a full FIFO kept when a read frees a slot."""

    inputs = ("rst_n", "wr_en", "din", "rd_en")
    outputs_order = ("dout", "full", "empty", "count")

    def __init__(self, WIDTH: int, DEPTH: int) -> None:  # noqa: N803 - Verilog parameter names
        self.width, self.depth = WIDTH, DEPTH
        self.known = False
        self.queue: list[int] = []
        self.dout = 0

    def outputs(self) -> dict[str, int] | None:
        if not self.known:
            return None
        count = len(self.queue)
        return {"dout": self.dout, "full": int(count == self.depth), "empty": int(count == 0), "count": count}

    def will_read(self, inputs: dict[str, int]) -> bool:
        return bool(inputs["rd_en"]) and bool(self.queue)

    def step(self, inputs: dict[str, int]) -> None:
        if not inputs["rst_n"]:
            self.known, self.queue, self.dout = True, [], 0
            return
        if not self.known:
            return
        do_rd = self.will_read(inputs)
        do_wr = bool(inputs["wr_en"]) and (len(self.queue) < self.depth or bool(inputs["rd_en"]))
        if do_rd:
            self.dout = self.queue.pop(0)
        if do_wr:
            self.queue.append(inputs["din"] & ((1 << self.width) - 1))


class ArbiterModel:
    """rr_arbiter: search from the previous winner + 1, cyclically; the winner becomes the new previous."""

    inputs = ("rst_n", "req")
    outputs_order = ("grant",)

    def __init__(self, N: int) -> None:  # noqa: N803
        self.n = N
        self.known = False
        self.last = N - 1
        self.grant = 0

    def outputs(self) -> dict[str, int] | None:
        return {"grant": self.grant} if self.known else None

    def step(self, inputs: dict[str, int]) -> None:
        if not inputs["rst_n"]:
            self.known, self.grant, self.last = True, 0, self.n - 1
            return
        if not self.known:
            return
        req = inputs["req"]
        for offset in range(1, self.n + 1):
            index = (self.last + offset) % self.n
            if req >> index & 1:
                self.grant, self.last = 1 << index, index
                return
        self.grant = 0


class UartModel:
    """uart_tx: the line level and busy flag at every cycle of a frame."""

    inputs = ("rst_n", "tx_start", "tx_data")
    outputs_order = ("tx", "busy")

    def __init__(self, CLKS_PER_BIT: int, STOP_BITS: int) -> None:  # noqa: N803
        self.cpb, self.stop_bits = CLKS_PER_BIT, STOP_BITS
        self.known = False
        self.levels: list[int] = []  # line level for each remaining busy cycle
        self.tx = 1

    @property
    def busy(self) -> bool:
        return bool(self.levels)

    def outputs(self) -> dict[str, int] | None:
        return {"tx": self.tx, "busy": int(self.busy)} if self.known else None

    def step(self, inputs: dict[str, int]) -> None:
        if not inputs["rst_n"]:
            self.known, self.levels, self.tx = True, [], 1
            return
        if not self.known:
            return
        if self.levels:
            self.levels.pop(0)
            self.tx = self.levels[0] if self.levels else 1
        elif inputs["tx_start"]:
            data = inputs["tx_data"]
            bits = [0] + [data >> i & 1 for i in range(8)] + [1] * self.stop_bits
            self.levels = [b for b in bits for _ in range(self.cpb)]
            self.tx = 0


class AluModel:
    """alu: registered result and flags, held while en = 0."""

    inputs = ("rst_n", "en", "op", "a", "b")
    outputs_order = ("y", "zero", "carry", "negative", "overflow")

    def __init__(self, WIDTH: int) -> None:  # noqa: N803
        self.width = WIDTH
        self.known = False
        self.state = {"y": 0, "zero": 1, "carry": 0, "negative": 0, "overflow": 0}

    def outputs(self) -> dict[str, int] | None:
        return dict(self.state) if self.known else None

    def step(self, inputs: dict[str, int]) -> None:
        if not inputs["rst_n"]:
            self.known = True
            self.state = {"y": 0, "zero": 1, "carry": 0, "negative": 0, "overflow": 0}
            return
        if not self.known or not inputs["en"]:
            return
        w, mask = self.width, (1 << self.width) - 1
        a, b, op = inputs["a"] & mask, inputs["b"] & mask, inputs["op"] & 7
        sign = 1 << (w - 1)
        carry = overflow = 0
        if op == 0:
            total = a + b
            y, carry = total & mask, int(total > mask)
            overflow = int((a & sign) == (b & sign) and (y & sign) != (a & sign))
        elif op == 1:
            y, carry = (a - b) & mask, int(a < b)
            overflow = int((a & sign) != (b & sign) and (y & sign) != (a & sign))
        elif op == 2:
            y = a & b
        elif op == 3:
            y = a | b
        elif op == 4:
            y = a ^ b
        elif op == 5:
            y, carry = (a << 1) & mask, int(bool(a & sign))
        elif op == 6:
            y, carry = a >> 1, a & 1
        else:
            y = ~a & mask
        self.state = {"y": y, "zero": int(y == 0), "carry": carry, "negative": int(bool(y & sign)),
                      "overflow": overflow}


class UartFifoModel:
    """uart_fifo_tx: the FIFO and transmitter models joined by the pop/load controller."""

    inputs = ("rst_n", "wr_en", "din")
    outputs_order = ("full", "level", "tx", "idle")

    def __init__(self, DEPTH: int, CLKS_PER_BIT: int, STOP_BITS: int) -> None:  # noqa: N803
        self.fifo = FifoModel(8, DEPTH)
        self.uart = UartModel(CLKS_PER_BIT, STOP_BITS)
        self.load = 0
        self.known = False

    @property
    def pop(self) -> bool:
        return bool(self.fifo.queue) and not self.uart.busy and not self.load

    def outputs(self) -> dict[str, int] | None:
        if not self.known:
            return None
        fifo, uart = self.fifo.outputs(), self.uart.outputs()
        assert fifo is not None and uart is not None
        return {"full": fifo["full"], "level": fifo["count"], "tx": uart["tx"],
                "idle": int(fifo["empty"] == 1 and not uart["busy"] and not self.load)}

    def step(self, inputs: dict[str, int]) -> None:
        rst_n = inputs["rst_n"]
        if not rst_n:
            self.known = True
        elif not self.known:
            return
        pop = int(self.pop)
        tx_data = self.fifo.dout
        self.fifo.step({"rst_n": rst_n, "wr_en": inputs["wr_en"], "din": inputs["din"], "rd_en": pop})
        self.uart.step({"rst_n": rst_n, "tx_start": self.load, "tx_data": tx_data})
        self.load = pop if rst_n else 0


def make_model(design: str, params: dict[str, int]) -> Model:
    """The reference model of a design with this build's parameters."""
    factories = {"fifo": FifoModel, "arbiter": ArbiterModel, "uart": UartModel, "alu": AluModel,
                 "uart_fifo": UartFifoModel}
    return factories[design](**params)
