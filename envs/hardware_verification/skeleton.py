"""The near-term testbench skeleton: the plumbing of a self-checking testbench, with the checking left to do.

It compiles and passes as given (it checks nothing yet), so it earns nothing by itself.
"""

from __future__ import annotations

from .hdl import Port


def testbench(top: str, params: dict[str, int], ports: list[Port]) -> str:
    inputs = [p for p in ports if p.direction == "input" and p.name not in ("clk", "rst_n")]
    outputs = [p for p in ports if p.direction == "output"]

    def decl(kind: str, port: Port) -> str:
        width = f"[{port.width - 1}:0] " if port.width > 1 else ""
        return f"    {kind} {width}{port.name};"

    lines = [
        "`timescale 1ns/1ps",
        f"// Testbench skeleton for {top}. Complete it: drive stimulus, predict every output from spec.md",
        "// (a reference model), compare in every cycle with !== and count the errors.",
        "// Build and run, for example (RTL_DIR names the folder with the RTL under test):",
        "//   iverilog -g2012 -s tb -o sim.vvp verify/tb.v \"$RTL_DIR\"/*.v && vvp -n sim.vvp",
        "module tb;",
    ]
    lines += [f"    localparam {k} = {v};" for k, v in params.items()]
    lines += ["", "    reg clk = 1'b0;", "    reg rst_n;"]
    lines += [decl("reg", p) for p in inputs]
    lines += [decl("wire", p) for p in outputs]
    overrides = ", ".join(f".{k}({k})" for k in params)
    connections = ", ".join(f".{p.name}({p.name})" for p in ports)
    lines += ["", f"    {top} #({overrides}) dut ({connections});", "", "    always #5 clk = ~clk;", "",
              "    integer errors = 0;", "", "    initial begin", "        rst_n = 1'b0;"]
    lines += [f"        {p.name} = 0;" for p in inputs]
    lines += ["        repeat (2) @(posedge clk);", "        #1 rst_n = 1'b1;", "",
              "        // TODO: stimulus, expected values and checks, e.g.",
              "        //   @(negedge clk); if (<output> !== <expected>) begin errors = errors + 1; $display(...); end",
              "        repeat (20) @(posedge clk);", "",
              "        if (errors != 0) $fatal(1, \"FAIL: %0d errors\", errors);",
              "        $display(\"PASS\");", "        $finish;", "    end", "endmodule", ""]
    return "\n".join(lines)
