-- consentgate on PostgreSQL: the read-only role for analysts.
--
-- Run once per database, as a role that may create roles (the database's
-- superuser or one with CREATEROLE), after the daemon has created the schema:
--     psql "postgresql:///consentgate" -f analyst-role.sql
-- then give people logins that are members of it:
--     CREATE ROLE alice LOGIN; GRANT consentgate_analyst TO alice;
--
-- The role reads the analyst views (consent_events, consent_current,
-- consent_daily, consent_pruned, consent_log, outbox): a view runs with its owner's
-- rights, so nothing more is needed. It is granted no base table, and so
-- never the client_id key (table secrets), which would let whoever holds
-- it link a visitor's events at the destinations, nor the recipients of
-- erasure notices. For the same reason the outbox view shows it the
-- subject as NULL: the view shows the subject only to roles that may read
-- the subjects table. The daemon re-applies these grants at every start,
-- so a new version's views stay readable.
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'consentgate_analyst') THEN
    CREATE ROLE consentgate_analyst NOLOGIN;
  END IF;
END$$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM consentgate_analyst;
GRANT USAGE ON SCHEMA public TO consentgate_analyst;
GRANT SELECT ON consent_events, consent_current, consent_daily, consent_pruned, consent_log, outbox TO consentgate_analyst;
