`timescale 1ns/1ps
// Self-checking testbench for uart_fifo_tx: a model of the FIFO, the pop/load controller and the frame
// timing predicts full, level, tx and idle in every cycle. Traffic floods the buffer (writes while full),
// sends bursts and trickles; reset pulses are aimed at the edge where the controller pops a byte.
module tb;
    localparam DEPTH = {{DEPTH}};
    localparam CPB   = {{CLKS_PER_BIT}};
    localparam STOPS = {{STOP_BITS}};
    localparam CW    = $clog2(DEPTH + 1);
    localparam FRAME = (9 + STOPS) * CPB;
    localparam NCYC  = 16000;

    reg           clk, rst_n, wr_en;
    reg  [7:0]    din;
    wire          full, tx, idle;
    wire [CW-1:0] level;

    uart_fifo_tx #(.DEPTH(DEPTH), .CLKS_PER_BIT(CPB), .STOP_BITS(STOPS)) dut (
        .clk(clk), .rst_n(rst_n), .wr_en(wr_en), .din(din),
        .full(full), .level(level), .tx(tx), .idle(idle));

    // Reference model. FIFO: circular queue (head, n) with registered output f_dout.
    reg [7:0] q [0:DEPTH-1];
    reg [7:0] f_dout;
    integer   head, n;
    // Transmitter: position in the frame, busy, line level. Controller: load register.
    reg [10:0] bits;
    reg        m_tx, m_busy, m_load, pop, known;
    integer    pos;

    integer cyc, errors, seed, dumpfd, phase_left, p_wr, rst_left;
    reg [8*128-1:0] dumpname;

    function integer rnd(input integer range);
        begin
            rnd = {$random(seed)} % range;
        end
    endfunction

    task drive;
        begin
            if (phase_left == 0) begin
                phase_left = 100 + rnd(700);
                case (rnd(4))
                    0: p_wr = 95;
                    1: p_wr = 50;
                    2: p_wr = 2;
                    default: p_wr = 0;
                endcase
            end
            phase_left = phase_left - 1;
            pop = known && n > 0 && !m_busy && !m_load;
            if (rst_left == 0 && (rnd(1500) == 0 || (pop && rnd(12) == 0))) rst_left = 1 + (pop ? 0 : rnd(3));
            rst_n = (rst_left == 0);
            if (rst_left != 0) rst_left = rst_left - 1;
            wr_en = rnd(100) < p_wr;
            din   = $random(seed);
        end
    endtask

    task check;
        begin
            if (known && (full !== (n == DEPTH) || level !== n || tx !== m_tx ||
                          idle !== (n == 0 && !m_busy && !m_load))) begin
                errors = errors + 1;
                if (errors <= 5)
                    $display("MISMATCH cycle %0d: full=%b (expected %b) level=%0d (%0d) tx=%b (%b) idle=%b (%b)",
                             cyc, full, n == DEPTH, level, n, tx, m_tx, idle, n == 0 && !m_busy && !m_load);
            end
            if (dumpfd) $fdisplay(dumpfd, "%h %h %h %h", n == DEPTH, n[CW-1:0], m_tx, n == 0 && !m_busy && !m_load);
            if (errors >= 5 && !dumpfd) $fatal(1, "FAIL: stopped at the 5th mismatching cycle (%0d)", cyc);
        end
    endtask

    task step;
        reg [7:0] handed;
        reg       start;
        begin
            if (!rst_n) begin
                known = 1; n = 0; head = 0; f_dout = 0; m_tx = 1; m_busy = 0; m_load = 0; pos = 0;
            end else if (known) begin
                pop = n > 0 && !m_busy && !m_load;
                handed = f_dout;
                start = m_load;
                // FIFO edge: a pop is a performed read; a write while full is kept when it coincides.
                if (pop) begin
                    f_dout = q[head];
                    head = (head + 1) % DEPTH;
                    n = n - 1;
                    if (wr_en) begin q[(head + n) % DEPTH] = din; n = n + 1; end
                end else if (wr_en && n < DEPTH) begin
                    q[(head + n) % DEPTH] = din; n = n + 1;
                end
                // Transmitter edge.
                if (m_busy) begin
                    pos = pos + 1;
                    if (pos == FRAME) begin m_busy = 0; m_tx = 1; end
                    else m_tx = bits[pos / CPB];
                end else if (start) begin
                    bits = {2'b11, handed, 1'b0};
                    m_busy = 1; pos = 0; m_tx = 0;
                end
                m_load = pop;
            end
        end
    endtask

    initial begin
        clk = 0; seed = 31337; errors = 0; known = 0; n = 0; head = 0; f_dout = 0; bits = 0;
        m_tx = 1; m_busy = 0; m_load = 0; pos = 0; pop = 0;
        phase_left = 0; rst_left = 2; p_wr = 0; dumpfd = 0;
        if ($value$plusargs("dump=%s", dumpname)) dumpfd = $fopen(dumpname, "w");
        for (cyc = 0; cyc < NCYC; cyc = cyc + 1) begin
            drive;
            #4 check;
            step;
            #1 clk = 1;
            #5 clk = 0;
        end
        if (dumpfd) $fclose(dumpfd);
        if (errors != 0) $fatal(1, "FAIL: %0d mismatching cycles out of %0d", errors, NCYC);
        $display("PASS: %0d cycles", NCYC);
        $finish;
    end
endmodule
