CREATE TABLE ip_allowlist (
    pos      INT          NOT NULL PRIMARY KEY,
    cidr     VARCHAR(43)  NOT NULL,
    note     VARCHAR(200) NOT NULL,
    UNIQUE KEY ip_allowlist_cidr (cidr)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
