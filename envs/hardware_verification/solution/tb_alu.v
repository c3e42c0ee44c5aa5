`timescale 1ns/1ps
// Self-checking testbench for alu: an arithmetic model predicts y and the four flags after every edge,
// with random and corner-case operands (0, 1, all ones, the sign bit, the largest positive value).
module tb;
    localparam W    = {{WIDTH}};
    localparam NCYC = 4000;

    reg          clk, rst_n, en;
    reg  [2:0]   op;
    reg  [W-1:0] a, b;
    wire [W-1:0] y;
    wire         zero, carry, negative, overflow;

    alu #(.WIDTH(W)) dut (.clk(clk), .rst_n(rst_n), .en(en), .op(op), .a(a), .b(b),
                          .y(y), .zero(zero), .carry(carry), .negative(negative), .overflow(overflow));

    reg [W-1:0] m_y;
    reg         m_z, m_c, m_n, m_v;
    reg [W:0]   t;
    integer     known;

    integer cyc, errors, seed, dumpfd, rst_left;
    reg [8*128-1:0] dumpname;

    function integer rnd(input integer range);
        begin
            rnd = {$random(seed)} % range;
        end
    endfunction

    function [W-1:0] operand(input integer dummy);
        begin
            case (rnd(12))
                0: operand = 0;
                1: operand = 1;
                2: operand = {W{1'b1}};
                3: operand = {1'b1, {(W-1){1'b0}}};
                4: operand = {1'b0, {(W-1){1'b1}}};
                default: operand = $random(seed);
            endcase
        end
    endfunction

    task drive;
        begin
            if (rst_left == 0 && rnd(300) == 0) rst_left = 1 + rnd(2);
            rst_n = (rst_left == 0);
            if (rst_left != 0) rst_left = rst_left - 1;
            en = rnd(100) < 85;
            op = rnd(8);
            a  = operand(0);
            b  = operand(0);
        end
    endtask

    task check;
        begin
            if (known && (y !== m_y || zero !== m_z || carry !== m_c || negative !== m_n || overflow !== m_v)) begin
                errors = errors + 1;
                if (errors <= 5)
                    $display("MISMATCH cycle %0d: y=%h zero=%b carry=%b negative=%b overflow=%b, expected %h %b %b %b %b",
                             cyc, y, zero, carry, negative, overflow, m_y, m_z, m_c, m_n, m_v);
            end
            if (dumpfd) $fdisplay(dumpfd, "%h %h %h %h %h", m_y, m_z, m_c, m_n, m_v);
            if (errors >= 5 && !dumpfd) $fatal(1, "FAIL: stopped at the 5th mismatching cycle (%0d)", cyc);
        end
    endtask

    task step;
        begin
            if (!rst_n) begin
                known = 1; m_y = 0; m_z = 1; m_c = 0; m_n = 0; m_v = 0;
            end else if (known && en) begin
                m_c = 0; m_v = 0;
                case (op)
                    3'd0: begin
                        t = a + b; m_y = t[W-1:0]; m_c = t[W];
                        m_v = (a[W-1] == b[W-1]) && (m_y[W-1] != a[W-1]);
                    end
                    3'd1: begin
                        m_y = a - b; m_c = a < b;
                        m_v = (a[W-1] != b[W-1]) && (m_y[W-1] != a[W-1]);
                    end
                    3'd2: m_y = a & b;
                    3'd3: m_y = a | b;
                    3'd4: m_y = a ^ b;
                    3'd5: begin m_y = a << 1; m_c = a[W-1]; end
                    3'd6: begin m_y = a >> 1; m_c = a[0]; end
                    default: m_y = ~a;
                endcase
                m_z = (m_y == 0);
                m_n = m_y[W-1];
            end
        end
    endtask

    initial begin
        clk = 0; seed = 4451; errors = 0; known = 0; rst_left = 2; dumpfd = 0;
        m_y = 0; m_z = 1; m_c = 0; m_n = 0; m_v = 0;
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
