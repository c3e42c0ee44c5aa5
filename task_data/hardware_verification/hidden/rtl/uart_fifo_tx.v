// Buffered serial transmitter: bytes written into a FIFO are sent by a UART transmitter.
module uart_fifo_tx #(
    parameter DEPTH        = 8,
    parameter CLKS_PER_BIT = 8,
    parameter STOP_BITS    = 1
) (
    input  wire                       clk,
    input  wire                       rst_n,
    input  wire                       wr_en,
    input  wire [7:0]                 din,
    output wire                       full,
    output wire [$clog2(DEPTH+1)-1:0] level,
    output wire                       tx,
    output wire                       idle
);
    wire [7:0] fifo_dout;
    wire       fifo_empty;
    wire       tx_busy;
    reg        load;

    wire pop = !fifo_empty && !tx_busy && !load;

    sync_fifo #(
        .WIDTH(8),
        .DEPTH(DEPTH)
    ) u_fifo (
        .clk   (clk),
        .rst_n (rst_n),
        .wr_en (wr_en),
        .din   (din),
        .rd_en (pop),
        .dout  (fifo_dout),
        .full  (full),
        .empty (fifo_empty),
        .count (level)
    );

    uart_tx #(
        .CLKS_PER_BIT(CLKS_PER_BIT),
        .STOP_BITS   (STOP_BITS)
    ) u_tx (
        .clk      (clk),
        .rst_n    (rst_n),
        .tx_start (load),
        .tx_data  (fifo_dout),
        .tx       (tx),
        .busy     (tx_busy)
    );

    always @(posedge clk) begin
        if (!rst_n)
            load <= 1'b0;
        else
            load <= pop;
    end

    assign idle = fifo_empty && !tx_busy && !load;
endmodule
