CREATE TABLE roles (
    name       VARCHAR(40)  NOT NULL PRIMARY KEY,
    label      VARCHAR(100) NOT NULL,
    created_at DATETIME(6)  NOT NULL,
    updated_at DATETIME(6)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
