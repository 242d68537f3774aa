-- Send-as delegations: `user` may use `address` (a lookup key, or "*@domain") as its
-- envelope or header sender, besides its own address and aliases.
CREATE TABLE send_as (
    user TEXT NOT NULL,
    address TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (user, address)
);
