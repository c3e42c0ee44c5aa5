`timescale 1ns/1ps
// Self-checking testbench for uart_tx: a frame model predicts tx and busy in every cycle while the host
// streams bytes back to back, sends them at random or sparsely, changes tx_data mid-frame, and resets.
module tb;
    localparam CPB   = {{CLKS_PER_BIT}};
    localparam STOPS = {{STOP_BITS}};
    localparam FRAME = (9 + STOPS) * CPB;
    localparam NCYC  = 12000;

    reg        clk, rst_n, tx_start;
    reg  [7:0] tx_data;
    wire       tx, busy;

    uart_tx #(.CLKS_PER_BIT(CPB), .STOP_BITS(STOPS)) dut (
        .clk(clk), .rst_n(rst_n), .tx_start(tx_start), .tx_data(tx_data), .tx(tx), .busy(busy));

    // Reference model: position `pos` within the current frame of `FRAME` cycles.
    reg  [10:0] bits;
    reg         m_tx, m_busy;
    integer     pos, known;

    integer cyc, errors, seed, dumpfd, phase_left, p_start, rst_left;
    reg [8*128-1:0] dumpname;

    function integer rnd(input integer range);
        begin
            rnd = {$random(seed)} % range;
        end
    endfunction

    task drive;
        begin
            if (phase_left == 0) begin
                phase_left = 50 + rnd(400);
                case (rnd(4))
                    0: p_start = 1000;
                    1: p_start = 300;
                    2: p_start = 20;
                    default: p_start = 0;
                endcase
            end
            phase_left = phase_left - 1;
            if (rst_left == 0 && rnd(800) == 0) rst_left = 1 + rnd(3);
            rst_n = (rst_left == 0);
            if (rst_left != 0) rst_left = rst_left - 1;
            tx_start = rnd(1000) < p_start;
            tx_data  = $random(seed);
        end
    endtask

    task check;
        begin
            if (known && (tx !== m_tx || busy !== m_busy)) begin
                errors = errors + 1;
                if (errors <= 5)
                    $display("MISMATCH cycle %0d: tx=%b (expected %b) busy=%b (expected %b), frame cycle %0d",
                             cyc, tx, m_tx, busy, m_busy, pos);
            end
            if (dumpfd) $fdisplay(dumpfd, "%h %h", m_tx, m_busy);
            if (errors >= 5 && !dumpfd) $fatal(1, "FAIL: stopped at the 5th mismatching cycle (%0d)", cyc);
        end
    endtask

    task step;
        begin
            if (!rst_n) begin
                known = 1; m_tx = 1; m_busy = 0; pos = 0;
            end else if (known) begin
                if (m_busy) begin
                    pos = pos + 1;
                    if (pos == FRAME) begin
                        m_busy = 0; m_tx = 1;
                    end else begin
                        m_tx = bits[pos / CPB];
                    end
                end else if (tx_start) begin
                    bits = {2'b11, tx_data, 1'b0};
                    m_busy = 1; pos = 0; m_tx = 0;
                end
            end
        end
    endtask

    initial begin
        clk = 0; seed = 99173; errors = 0; known = 0; m_tx = 1; m_busy = 0; pos = 0; bits = 0;
        phase_left = 0; rst_left = 2; p_start = 0; dumpfd = 0;
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
