`timescale 1ns/1ps
// Self-checking testbench for rr_arbiter: a rotating-priority model predicts the grant in every cycle
// under sparse, dense, all-requesting, pair and single-requester traffic with reset pulses.
module tb;
    localparam N    = {{N}};
    localparam NCYC = 4000;

    reg          clk, rst_n;
    reg  [N-1:0] req;
    wire [N-1:0] grant;

    rr_arbiter #(.N(N)) dut (.clk(clk), .rst_n(rst_n), .req(req), .grant(grant));

    reg [N-1:0] m_grant;
    integer last, known, k, idx, won;

    integer cyc, errors, seed, dumpfd, phase_left, mode, a, b, rst_left;
    reg [8*128-1:0] dumpname;

    function integer rnd(input integer range);
        begin
            rnd = {$random(seed)} % range;
        end
    endfunction

    task drive;
        begin
            if (phase_left == 0) begin
                phase_left = 10 + rnd(60);
                mode = rnd(6);
                a = rnd(N);
                b = (a + 1 + rnd(N - 1)) % N;
            end
            phase_left = phase_left - 1;
            case (mode)
                0: for (k = 0; k < N; k = k + 1) req[k] = rnd(100) < 20;
                1: for (k = 0; k < N; k = k + 1) req[k] = rnd(100) < 70;
                2: req = {N{1'b1}};
                3: begin req = 0; req[a] = 1'b1; req[b] = 1'b1; end
                4: begin req = 0; req[a] = 1'b1; end
                default: req = 0;
            endcase
            if (rst_left == 0 && rnd(250) == 0) rst_left = 1 + rnd(3);
            rst_n = (rst_left == 0);
            if (rst_left != 0) rst_left = rst_left - 1;
        end
    endtask

    task check;
        begin
            if (known && grant !== m_grant) begin
                errors = errors + 1;
                if (errors <= 5)
                    $display("MISMATCH cycle %0d: req=%b grant=%b expected %b", cyc, req, grant, m_grant);
            end
            if (dumpfd) $fdisplay(dumpfd, "%h", m_grant);
            if (errors >= 5 && !dumpfd) $fatal(1, "FAIL: stopped at the 5th mismatching cycle (%0d)", cyc);
        end
    endtask

    task step;
        begin
            if (!rst_n) begin
                known = 1; last = N - 1; m_grant = 0;
            end else if (known) begin
                won = -1;
                for (k = 1; k <= N; k = k + 1) begin
                    idx = (last + k) % N;
                    if (won < 0 && req[idx]) won = idx;
                end
                m_grant = 0;
                if (won >= 0) begin
                    m_grant[won] = 1'b1;
                    last = won;
                end
            end
        end
    endtask

    initial begin
        clk = 0; seed = 7321; errors = 0; known = 0; last = N - 1; m_grant = 0;
        phase_left = 0; rst_left = 2; mode = 0; a = 0; b = 1; dumpfd = 0;
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
