CREATE TABLE resources (
    id         TEXT      NOT NULL PRIMARY KEY,
    name       TEXT      NOT NULL,
    quantity   INTEGER   NOT NULL,
    active     BOOLEAN   NOT NULL,
    position   INTEGER   NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK (quantity >= 1)
);
--bun:split
CREATE INDEX resources_position ON resources (position, id)
