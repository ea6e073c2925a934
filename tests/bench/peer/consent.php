<?php
// The benchmark's peer (a): the same consent write done the way most sites
// do it today, PHP-FPM + PDO SQLite, one durable transaction per request
// (WAL, synchronous=FULL), a persistent connection. Not shipped, not a test.
$db = new PDO('sqlite:' . $_SERVER['CG_PEER_DB'], null, null,
              [PDO::ATTR_PERSISTENT => true, PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
$db->exec('PRAGMA synchronous=FULL');
$db->exec('PRAGMA busy_timeout=5000');
$in = json_decode(file_get_contents('php://input'), true);
if (!is_array($in) || !is_array($in['choices'] ?? null) || !is_string($in['policy_version'] ?? null)) {
    http_response_code(400);
    header('Content-Type: application/json');
    echo '{"error":"bad_json"}';
    exit;
}
$id = rtrim(strtr(base64_encode(random_bytes(16)), '+/', '-_'), '=');
$prefix = preg_replace('/\.\d+$/', '.0/24', $_SERVER['REMOTE_ADDR']);
$c = $in['choices'];
$st = $db->prepare('INSERT INTO consent_events(subject, recorded_at, action, policy_version,'
    . ' preferences, statistics, marketing, lang, page, ip_prefix) VALUES(?,?,?,?,?,?,?,?,?,?)');
$st->execute([hash('sha256', 'consentgate/subject/v1:' . $id), gmdate('Y-m-d\TH:i:s.v\Z'), 'choice',
    $in['policy_version'], (int)!empty($c['preferences']), (int)!empty($c['statistics']),
    (int)!empty($c['marketing']), $in['lang'] ?? null, parse_url($in['page'] ?? '', PHP_URL_PATH), $prefix]);
setcookie('cg_id', $id, ['expires' => time() + 31536000, 'path' => '/', 'httponly' => true, 'samesite' => 'Lax']);
header('Content-Type: application/json');
header('Cache-Control: no-store');
echo json_encode(['choices' => $c, 'policy_version' => $in['policy_version']]);
