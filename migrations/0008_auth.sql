-- API tokens and browser sessions (issue 7: access control).
--
-- A token's secret is shown once, at creation; only its SHA-256 is kept.
-- Secrets are 160+ bits of randomness, so a plain hash is enough (a slow
-- password hash protects guessable passwords, which these are not).
create table api_tokens (
    id           uuid primary key,
    name         text not null check (length(name) between 1 and 100),
    scope        text not null check (scope in ('read', 'submit', 'admin')),
    secret_hash  bytea not null unique,
    -- The first characters of the secret, so people can tell tokens apart.
    prefix       text not null,
    created_at   timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- A browser session: the login page exchanges a token for a random session
-- id held in an HttpOnly cookie. Revoking the token ends its sessions at once
-- (every lookup joins the token), deleting it removes them.
create table api_sessions (
    id_hash    bytea primary key,
    token_id   uuid not null references api_tokens (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);

create index api_sessions_expires_at on api_sessions (expires_at);
create index api_sessions_token_id on api_sessions (token_id);
