CREATE TABLE plugin_settings (
    plugin_id      VARCHAR(64) NOT NULL PRIMARY KEY,
    enabled        BOOLEAN     NOT NULL,
    setting_values TEXT        NOT NULL,
    secret_values  TEXT        NOT NULL,
    updated_at     DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
