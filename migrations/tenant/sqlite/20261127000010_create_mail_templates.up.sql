CREATE TABLE mail_templates (
    event_type TEXT      NOT NULL,
    lang       TEXT      NOT NULL,
    subject    TEXT      NOT NULL,
    body_text  TEXT      NOT NULL,
    body_html  TEXT      NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (event_type, lang)
)
