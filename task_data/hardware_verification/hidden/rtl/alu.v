// Registered ALU with zero, carry, negative and overflow flags.
module alu #(
    parameter WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire             en,
    input  wire [2:0]       op,
    input  wire [WIDTH-1:0] a,
    input  wire [WIDTH-1:0] b,
    output reg  [WIDTH-1:0] y,
    output reg              zero,
    output reg              carry,
    output reg              negative,
    output reg              overflow
);
    localparam [2:0] OP_ADD = 3'd0;
    localparam [2:0] OP_SUB = 3'd1;
    localparam [2:0] OP_AND = 3'd2;
    localparam [2:0] OP_OR  = 3'd3;
    localparam [2:0] OP_XOR = 3'd4;
    localparam [2:0] OP_SHL = 3'd5;
    localparam [2:0] OP_SHR = 3'd6;

    reg [WIDTH:0] wide;
    reg           v;

    always @* begin
        v = 1'b0;
        case (op)
            OP_ADD: begin
                wide = {1'b0, a} + {1'b0, b};
                v    = (a[WIDTH-1] == b[WIDTH-1]) && (wide[WIDTH-1] != a[WIDTH-1]);
            end
            OP_SUB: begin
                wide = {1'b0, a} - {1'b0, b};
                v    = (a[WIDTH-1] != b[WIDTH-1]) && (wide[WIDTH-1] != a[WIDTH-1]);
            end
            OP_AND:  wide = {1'b0, a & b};
            OP_OR:   wide = {1'b0, a | b};
            OP_XOR:  wide = {1'b0, a ^ b};
            OP_SHL:  wide = {a, 1'b0};
            OP_SHR:  wide = {a[0], 1'b0, a[WIDTH-1:1]};
            default: wide = {1'b0, ~a};
        endcase
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            y        <= {WIDTH{1'b0}};
            zero     <= 1'b1;
            carry    <= 1'b0;
            negative <= 1'b0;
            overflow <= 1'b0;
        end else if (en) begin
            y        <= wide[WIDTH-1:0];
            zero     <= (wide[WIDTH-1:0] == {WIDTH{1'b0}});
            carry    <= wide[WIDTH];
            negative <= wide[WIDTH-1];
            overflow <= v;
        end
    end
endmodule
