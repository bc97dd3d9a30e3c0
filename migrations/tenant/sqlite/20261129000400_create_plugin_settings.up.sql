CREATE TABLE plugin_settings (
    plugin_id      VARCHAR(64) NOT NULL PRIMARY KEY,
    enabled        BOOLEAN     NOT NULL,
    setting_values TEXT        NOT NULL,
    secret_values  TEXT        NOT NULL,
    updated_at     TIMESTAMP   NOT NULL
)
