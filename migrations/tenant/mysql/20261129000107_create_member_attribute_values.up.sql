CREATE TABLE member_attribute_values (
    member_id    VARCHAR(32) NOT NULL,
    attribute_id VARCHAR(32) NOT NULL,
    value        TEXT        NOT NULL,
    PRIMARY KEY (member_id, attribute_id),
    KEY member_attribute_values_attribute (attribute_id),
    CONSTRAINT member_attribute_values_member_fk FOREIGN KEY (member_id) REFERENCES members (id),
    CONSTRAINT member_attribute_values_attribute_fk FOREIGN KEY (attribute_id) REFERENCES member_attributes (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
