-- golive's state on PostgreSQL, version 1: runs, their journals (one row per entry, in order) and who holds
-- each target. The run lock itself is a session-level advisory lock (7366, hashtext(target)); the holder row
-- says who took it, and is believed only while that backend still holds the advisory lock.
CREATE TABLE golive_runs (
    id text PRIMARY KEY,
    created timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE golive_entries (
    run_id text NOT NULL REFERENCES golive_runs (id) ON DELETE CASCADE,
    seq integer NOT NULL,
    entry json NOT NULL,
    written timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE golive_locks (
    target text PRIMARY KEY,
    holder json NOT NULL,
    backend_pid integer NOT NULL
);

-- Followers (`golive status --follow`, `golive serve`) LISTEN on golive_journal: "<run id> <seq>" per entry.
CREATE FUNCTION golive_entry_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('golive_journal', NEW.run_id || ' ' || NEW.seq);
    RETURN NULL;
END
$$;

CREATE TRIGGER golive_entry_written AFTER INSERT ON golive_entries
    FOR EACH ROW EXECUTE FUNCTION golive_entry_written();
