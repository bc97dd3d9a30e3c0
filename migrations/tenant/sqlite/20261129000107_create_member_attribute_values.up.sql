CREATE TABLE member_attribute_values (
    member_id    TEXT NOT NULL REFERENCES members (id),
    attribute_id TEXT NOT NULL REFERENCES member_attributes (id) ON DELETE CASCADE,
    value        TEXT NOT NULL,
    PRIMARY KEY (member_id, attribute_id)
);
--bun:split
CREATE INDEX member_attribute_values_attribute ON member_attribute_values (attribute_id)
