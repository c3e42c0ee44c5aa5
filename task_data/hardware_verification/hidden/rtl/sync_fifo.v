// Synchronous FIFO: one clock, registered read data, occupancy count.
module sync_fifo #(
    parameter WIDTH = 8,
    parameter DEPTH = 8
) (
    input  wire                       clk,
    input  wire                       rst_n,
    input  wire                       wr_en,
    input  wire [WIDTH-1:0]           din,
    input  wire                       rd_en,
    output reg  [WIDTH-1:0]           dout,
    output wire                       full,
    output wire                       empty,
    output reg  [$clog2(DEPTH+1)-1:0] count
);
    localparam AW = $clog2(DEPTH);
    localparam CW = $clog2(DEPTH + 1);
    localparam [31:0] DEPTH_M1 = DEPTH - 1;
    localparam [31:0] DEPTH_U  = DEPTH;
    localparam [AW-1:0] LAST       = DEPTH_M1[AW-1:0];
    localparam [CW-1:0] FULL_COUNT = DEPTH_U[CW-1:0];

    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AW-1:0]    wr_ptr;
    reg [AW-1:0]    rd_ptr;

    wire do_rd = rd_en && !empty;
    wire do_wr = wr_en && (!full || rd_en);

    assign full  = (count == FULL_COUNT);
    assign empty = (count == {CW{1'b0}});

    always @(posedge clk) begin
        if (do_wr)
            mem[wr_ptr] <= din;
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            wr_ptr <= {AW{1'b0}};
            rd_ptr <= {AW{1'b0}};
            count  <= {CW{1'b0}};
            dout   <= {WIDTH{1'b0}};
        end else begin
            if (do_wr)
                wr_ptr <= (wr_ptr == LAST) ? {AW{1'b0}} : wr_ptr + 1'b1;
            if (do_rd) begin
                dout   <= mem[rd_ptr];
                rd_ptr <= (rd_ptr == LAST) ? {AW{1'b0}} : rd_ptr + 1'b1;
            end
            if (do_wr && !do_rd)
                count <= count + 1'b1;
            else if (do_rd && !do_wr)
                count <= count - 1'b1;
        end
    end
endmodule
