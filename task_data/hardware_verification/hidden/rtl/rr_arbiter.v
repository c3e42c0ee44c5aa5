// Round-robin arbiter: one registered one-hot grant per cycle, rotating priority.
module rr_arbiter #(
    parameter N = 4
) (
    input  wire         clk,
    input  wire         rst_n,
    input  wire [N-1:0] req,
    output reg  [N-1:0] grant
);
    localparam IW = $clog2(N);
    localparam [31:0] N_M1 = N - 1;
    localparam [IW-1:0] LAST_ID = N_M1[IW-1:0];

    reg  [IW-1:0] last;
    reg  [IW-1:0] pick;
    reg  [IW-1:0] cand;
    reg           found;
    integer       i;

    always @* begin
        found = 1'b0;
        pick  = last;
        cand  = (last == LAST_ID) ? {IW{1'b0}} : last + 1'b1;
        for (i = 0; i < N; i = i + 1) begin
            if (!found && req[cand]) begin
                found = 1'b1;
                pick  = cand;
            end
            cand = (cand == LAST_ID) ? {IW{1'b0}} : cand + 1'b1;
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            grant <= {N{1'b0}};
            last  <= LAST_ID;
        end else if (found) begin
            grant <= {{(N-1){1'b0}}, 1'b1} << pick;
            last  <= pick;
        end else begin
            grant <= {N{1'b0}};
        end
    end
endmodule
