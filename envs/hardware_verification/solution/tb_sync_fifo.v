`timescale 1ns/1ps
// Self-checking testbench for sync_fifo: a queue model predicts every output in every cycle while
// phase-structured random traffic (fill, drain, streaming, writes while full) and reset pulses run.
module tb;
    localparam WIDTH = {{WIDTH}};
    localparam DEPTH = {{DEPTH}};
    localparam CW    = $clog2(DEPTH + 1);
    localparam NCYC  = 6000;

    reg              clk, rst_n, wr_en, rd_en;
    reg  [WIDTH-1:0] din;
    wire [WIDTH-1:0] dout;
    wire             full, empty;
    wire [CW-1:0]    count;

    sync_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) dut (
        .clk(clk), .rst_n(rst_n), .wr_en(wr_en), .din(din), .rd_en(rd_en),
        .dout(dout), .full(full), .empty(empty), .count(count));

    // Reference model: a circular queue of n words starting at head.
    reg [WIDTH-1:0] q [0:DEPTH-1];
    reg [WIDTH-1:0] m_dout;
    integer head, n, known;
    reg do_rd, do_wr;

    integer cyc, errors, seed, dumpfd, phase_left, p_wr, p_rd, rst_left;
    reg [8*128-1:0] dumpname;

    function integer rnd(input integer range);
        begin
            rnd = {$random(seed)} % range;
        end
    endfunction

    task drive;
        begin
            if (phase_left == 0) begin
                phase_left = 20 + rnd(120);
                case (rnd(6))
                    0: begin p_wr = 90; p_rd = 10; end
                    1: begin p_wr = 10; p_rd = 90; end
                    2: begin p_wr = 50; p_rd = 50; end
                    3: begin p_wr = 85; p_rd = 85; end
                    4: begin p_wr = 100; p_rd = 60; end
                    default: begin p_wr = 5; p_rd = 5; end
                endcase
            end
            phase_left = phase_left - 1;
            if (rst_left == 0 && rnd(500) == 0) rst_left = 1 + rnd(3);
            rst_n = (rst_left == 0);
            if (rst_left != 0) rst_left = rst_left - 1;
            wr_en = rnd(100) < p_wr;
            rd_en = rnd(100) < p_rd;
            din   = $random(seed);
        end
    endtask

    task check;
        begin
            if (known) begin
                if (dout !== m_dout || full !== (n == DEPTH) || empty !== (n == 0) || count !== n) begin
                    errors = errors + 1;
                    if (errors <= 5)
                        $display("MISMATCH cycle %0d: dout=%h (expected %h) full=%b (%b) empty=%b (%b) count=%0d (%0d)",
                                 cyc, dout, m_dout, full, n == DEPTH, empty, n == 0, count, n);
                end
            end
            if (dumpfd) $fdisplay(dumpfd, "%h %h %h %h", m_dout, n == DEPTH, n == 0, n[CW-1:0]);
            if (errors >= 5 && !dumpfd) $fatal(1, "FAIL: stopped at the 5th mismatching cycle (%0d)", cyc);
        end
    endtask

    task step;
        begin
            if (!rst_n) begin
                known = 1; n = 0; head = 0; m_dout = 0;
            end else if (known) begin
                do_rd = rd_en && n > 0;
                do_wr = wr_en && (n < DEPTH || rd_en);
                if (do_rd) begin
                    m_dout = q[head];
                    head = (head + 1) % DEPTH;
                    n = n - 1;
                end
                if (do_wr) begin
                    q[(head + n) % DEPTH] = din;
                    n = n + 1;
                end
            end
        end
    endtask

    initial begin
        clk = 0; seed = 20240611; errors = 0; known = 0; n = 0; head = 0; m_dout = 0;
        phase_left = 0; rst_left = 2; p_wr = 50; p_rd = 50; dumpfd = 0;
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
