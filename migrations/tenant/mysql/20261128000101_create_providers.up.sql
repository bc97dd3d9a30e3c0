CREATE TABLE providers (
    id         VARCHAR(32)  NOT NULL PRIMARY KEY,
    name       VARCHAR(200) NOT NULL,
    staff_id   VARCHAR(32)  NULL,
    active     BOOLEAN      NOT NULL,
    position   INT          NOT NULL DEFAULT 0,
    created_at DATETIME(6)  NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    KEY providers_position (position, id),
    KEY providers_staff (staff_id),
    CONSTRAINT providers_staff_fk FOREIGN KEY (staff_id) REFERENCES staff (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
