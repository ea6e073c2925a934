/* consentctl's help texts: one per subcommand (consentctl SUBCOMMAND --help). */
#include "cli.h"

const char cg_usage_report[] =
	"usage: consentctl -c FILE report [--by day|week|month] [--since YYYY-MM-DD]\n"
	"                                 [--k N] [--format table|csv|json|html] [--output FILE]\n"
	"  Outcomes (accept_all, reject_all, custom, withdraw) and the share of choices\n"
	"  granting each category, per period x country x policy version x language.\n"
	"  Cells with fewer than k distinct visitors ([report] min_visitors, default 5)\n"
	"  are suppressed. --format html writes one self-contained page with SVG charts.\n"
	"  Default: the last 30 days, by day, as a table. --output FILE is replaced in\n"
	"  one step (written to .FILE.tmp beside it, then renamed; a link at FILE is\n"
	"  replaced, never written through).\n";

const char cg_usage_export[] =
	"usage: consentctl -c FILE export --consent-id ID\n"
	"  For requests that arrive by e-mail: the same answer as GET /consent/export.\n"
	"  ID is the value of the visitor's __Host-cg_id cookie. Exit 3: no record.\n";

const char cg_usage_receipt[] =
	"usage: consentctl -c FILE receipt --consent-id ID\n"
	"  The receipt part of the export alone: the visitor's current consent per\n"
	"  purpose with its legal basis, recipients, retention and the record's chain\n"
	"  hash, under ISO/IEC TS 27560 and Kantara Consent Receipt field names, as\n"
	"  JSON. ID is the value of the visitor's consent cookie. Exit 3: no record.\n"
	"usage: consentctl -c FILE receipt verify FILE [--keys KEYS.json]\n"
	"  Checks a signed receipt (its envelope, or an export holding one) against the\n"
	"  log's public keys, or those of a saved GET /consent/keys. Exit 0 or 1.\n";

const char cg_usage_erase[] =
	"usage: consentctl -c FILE erase --consent-id ID\n"
	"       consentctl -c FILE erase --subject HEX\n"
	"  The same as POST /consent/erase: clears the personal fields of every event\n"
	"  of the visitor, drops their queued analytics and appends a tombstone. Safe\n"
	"  while the daemon runs. --subject names the visitor by the subject key of\n"
	"  consent_events: how erasures are applied again to a database restored from\n"
	"  a backup older than them (docs/backups.md#erasure-and-backups).\n";

const char cg_usage_verify[] =
	"usage: consentctl -c FILE verify [--database PATH]\n"
	"       consentctl -c FILE verify --head HEAD.json\n"
	"  Walks the chain in id order (rows, and the links of rows pruned by\n"
	"  retention) and checks every digest and link. Exit 0 when intact; otherwise 1,\n"
	"  naming the first bad row. --database checks another file (a backup copy).\n"
	"  --head: the log still holds that signed head (GET /consent/chain-head) with\n"
	"  nothing before it rewritten or removed; else exit 1 naming the divergence.\n";

const char cg_usage_purge[] =
	"usage: consentctl -c FILE purge [--dry-run] [--now 2026-01-31T12:00:00.000Z]\n"
	"  Clears IP prefixes older than ip_prefix_days, deletes the events of visitors\n"
	"  whose consent ended more than events_days_after_end ago (their chain links are\n"
	"  kept), deletes delivered/dropped outbox rows after outbox_delivered_days and\n"
	"  dead ones after 30 days, drops pending rows older than 72 h. --dry-run prints\n"
	"  what would change; --now sets the clock (tests, back-fills).\n";

const char cg_usage_migrate[] =
	"usage: consentctl -c FILE migrate [--database PATH]\n"
	"       consentctl -c FILE migrate --to URL\n"
	"  The daemon does the first at start-up; run it first to migrate ahead of a\n"
	"  restart. Schema 1 -> 2 rewrites every row in one transaction (the chain\n"
	"  and consent IDs of schema 1 keep working), then vacuums. Stop the daemon\n"
	"  of the older version first.\n"
	"  --to URL copies the SQLite log into an empty PostgreSQL database, named\n"
	"  outright: postgresql://HOST/DATABASE (or postgres://), or a conninfo with\n"
	"  dbname=DATABASE; anything else is refused before anything is touched\n"
	"  (exit 2). It copies every event, pruned link, outbox row and the client_id\n"
	"  key, in one transaction, then verifies both chains. Stop the daemon first;\n"
	"  the SQLite file takes no writes afterwards. Run again after an\n"
	"  interruption: a finished copy is recognised, a partial one never exists.\n"
	"  Then set [storage] backend = postgresql and url = URL.\n";

const char cg_usage_outbox[] =
	"usage: consentctl -c FILE outbox [summary|dead] [--format table|csv|json]\n"
	"       consentctl -c FILE outbox retry ID|all     dead letters → pending now\n"
	"       consentctl -c FILE outbox drop ID|all      dead or pending rows → dropped\n"
	"  summary (the default): rows per destination and state, oldest and newest;\n"
	"  dead: the dead letters with their last error. retry and drop change rows\n"
	"  (safe while the daemon runs); exit 3 when no row matched.\n";

const char cg_usage_keys[] =
	"usage: consentctl -c FILE keys\n"
	"  The same JSON as GET /consent/keys: every key that signed in this log, with\n"
	"  its id, the raw key (base64url) and its SPKI PEM (for openssl pkeyutl).\n";

const char cg_usage_head[] =
	"usage: consentctl -c FILE head [show|sign]\n"
	"  show (the default): the newest signed head's envelope, as GET\n"
	"  /consent/chain-head. sign: signs the head now with this instance's key\n"
	"  ([signing] key_file; run as the daemon's user) and runs [signing]\n"
	"  anchor_command. Exit 3: no head yet.\n";

const char cg_usage_bundle[] =
	"usage: consentctl -c FILE bundle --from YYYY-MM-DD --to YYYY-MM-DD [--consent-id ID] -o FILE.tar.gz\n"
	"  One archive for a regulator: the events of the period (CSV and JSON, personal\n"
	"  fields as stored; one visitor's with --consent-id), the chain verification\n"
	"  transcript, the heads signed in the period with their anchors, the public\n"
	"  keys, the policy-version history, the recipients and transfer bases, and a\n"
	"  README with verify.py that check it offline. Never overwrites FILE (nor\n"
	"  writes through a link there). Days are UTC calendar days that exist.\n"
	"  Memory stays flat however many events: they pass through two unnamed\n"
	"  scratch files in FILE's directory (about 1.5 kB per event, until done).\n";

const char cg_usage_banner[] =
	"usage: consentctl banner stamp DIR\n"
	"       consentctl banner id DIR\n"
	"  stamp: computes the build id of the banner in DIR (banner.js and banner.css)\n"
	"  and writes it into banner.js, which carries it in every choice; run it after\n"
	"  any change to the banner's files (the daemon refuses a build whose files do\n"
	"  not hash to the id it carries). The new banner.js is written as\n"
	"  .banner.js.tmp and renamed over the old (one left there by an interrupted\n"
	"  run is refused, never written through: remove it). id: prints the id. No\n"
	"  configuration needed.\n";

const char cg_usage_notice[] =
	"usage: consentctl -c FILE notice list\n"
	"       consentctl -c FILE notice show ID -o DIR\n"
	"  What was shown: every banner build and privacy notice this log refers to,\n"
	"  with when it was first served and retired (list, JSON), and the\n"
	"  byte-identical files of one of them (show, into DIR: their SHA-256 is\n"
	"  printed beside each; never over a file, never through a link, never a\n"
	"  name from the store that is not a plain file name). Exit 3: no such build\n"
	"  or notice.\n";
