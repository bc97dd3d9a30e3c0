CREATE TABLE mail_templates (
    event_type VARCHAR(64)  NOT NULL,
    lang       VARCHAR(8)   NOT NULL,
    subject    VARCHAR(800) NOT NULL,
    body_text  MEDIUMTEXT   NOT NULL,
    body_html  MEDIUMTEXT   NOT NULL,
    updated_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (event_type, lang)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
