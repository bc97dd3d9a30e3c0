CREATE TABLE menu_payment_policies (
    menu_id             VARCHAR(32) NOT NULL PRIMARY KEY,
    prepayment_required BOOLEAN     NOT NULL,
    cancellation_fees   TEXT        NOT NULL,
    updated_at          TIMESTAMP NOT NULL
)
