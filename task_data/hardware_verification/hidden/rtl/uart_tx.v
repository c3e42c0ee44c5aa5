// UART transmitter: 8 data bits, LSB first, no parity, STOP_BITS stop bits.
module uart_tx #(
    parameter CLKS_PER_BIT = 8,
    parameter STOP_BITS    = 1
) (
    input  wire       clk,
    input  wire       rst_n,
    input  wire       tx_start,
    input  wire [7:0] tx_data,
    output reg        tx,
    output reg        busy
);
    localparam CW = $clog2(CLKS_PER_BIT + 1);
    localparam [31:0] CPB_M1 = CLKS_PER_BIT - 1;
    localparam [31:0] LAST_U = 8 + STOP_BITS;
    localparam [CW-1:0] BIT_END  = CPB_M1[CW-1:0];
    localparam [3:0]    LAST_BIT = LAST_U[3:0];

    reg [CW-1:0] clk_cnt;
    reg [3:0]    bit_idx;
    reg [7:0]    shreg;

    always @(posedge clk) begin
        if (!rst_n) begin
            tx      <= 1'b1;
            busy    <= 1'b0;
            clk_cnt <= {CW{1'b0}};
            bit_idx <= 4'd0;
            shreg   <= 8'd0;
        end else if (!busy) begin
            if (tx_start) begin
                shreg   <= tx_data;
                tx      <= 1'b0;
                busy    <= 1'b1;
                clk_cnt <= {CW{1'b0}};
                bit_idx <= 4'd0;
            end
        end else if (bit_idx == LAST_BIT && clk_cnt == BIT_END) begin
            busy <= 1'b0;
        end else if (clk_cnt != BIT_END) begin
            clk_cnt <= clk_cnt + 1'b1;
        end else begin
            clk_cnt <= {CW{1'b0}};
            bit_idx <= bit_idx + 1'b1;
            if (bit_idx < 4'd8) begin
                tx    <= shreg[0];
                shreg <= {1'b0, shreg[7:1]};
            end else begin
                tx <= 1'b1;
            end
        end
    end
endmodule
