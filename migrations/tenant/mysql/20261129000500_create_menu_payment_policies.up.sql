CREATE TABLE menu_payment_policies (
    menu_id             VARCHAR(32) NOT NULL PRIMARY KEY,
    prepayment_required BOOLEAN     NOT NULL,
    cancellation_fees   TEXT        NOT NULL,
    updated_at          DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
