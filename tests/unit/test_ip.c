#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/err.h"
#include "consentgate/ip.h"

static void prefix_of(const char *text, unsigned v4, unsigned v6, const char *want)
{
	struct cg_ip ip;
	char out[CG_IP_PREFIX_MAX];

	assert_int_equal(cg_ip_parse(text, &ip), CG_OK);
	assert_int_equal(cg_ip_prefix(&ip, v4, v6, out), CG_OK);
	assert_string_equal(out, want);
}

static void test_v4(void **state)
{
	(void)state;
	prefix_of("203.0.113.77", 24, 48, "203.0.113.0/24");
	prefix_of("192.0.2.255", 16, 48, "192.0.0.0/16");
	prefix_of("198.51.100.7", 32, 48, "198.51.100.7/32");
	prefix_of("198.51.100.7", 20, 48, "198.51.96.0/20");
	prefix_of("0.0.0.0", 24, 48, "0.0.0.0/24");
}

static void test_v6(void **state)
{
	(void)state;
	prefix_of("2001:db8:1:2:3:4:5:6", 24, 48, "2001:db8:1::/48");
	prefix_of("2001:DB8:abcd:ffff::1", 24, 48, "2001:db8:abcd::/48");
	prefix_of("2001:db8::1", 24, 48, "2001:db8::/48");
	prefix_of("2001:db8:1:2::", 24, 56, "2001:db8:1::/56");
	prefix_of("2001:db8:1:2ff::", 24, 56, "2001:db8:1:200::/56");
	prefix_of("::1", 24, 48, "::/48");
	prefix_of("2001:db8:1:2:3:4:5:6", 24, 128, "2001:db8:1:2:3:4:5:6/128");
}

static void test_mapped_is_v4(void **state)
{
	struct cg_ip ip;

	(void)state;
	assert_int_equal(cg_ip_parse("::ffff:203.0.113.9", &ip), CG_OK);
	assert_int_equal(ip.family, 4);
	prefix_of("::ffff:203.0.113.9", 24, 48, "203.0.113.0/24");
	prefix_of("::FFFF:c000:0201", 24, 48, "192.0.2.0/24");
	/* deprecated IPv4-compatible: the embedded address, but :: and ::1 stay IPv6 */
	assert_int_equal(cg_ip_parse("::203.0.113.9", &ip), CG_OK);
	assert_int_equal(ip.family, 4);
	prefix_of("::203.0.113.9", 24, 48, "203.0.113.0/24");
	prefix_of("::1", 24, 48, "::/48");
	prefix_of("::", 24, 48, "::/48");
}

/* Forms whose /48 would carry the whole IPv4 address (6to4) or whose lookup
 * must use the embedded address: each becomes that IPv4 address. */
static void test_transition_is_v4(void **state)
{
	struct cg_ip ip;

	(void)state;
	/* 6to4: 2002:WWXX:YYZZ::/48 is the whole of WW.XX.YY.ZZ */
	prefix_of("2002:cb00:7109::1", 24, 48, "203.0.113.0/24");
	prefix_of("2002:c000:201:1234:5678::9", 24, 48, "192.0.2.0/24");
	assert_int_equal(cg_ip_parse("2002:cb00:7109::1", &ip), CG_OK);
	assert_int_equal(ip.family, 4);
	assert_int_equal(ip.a[3], 9); /* the lookup sees the client's address */
	/* NAT64 well-known prefix */
	prefix_of("64:ff9b::203.0.113.9", 24, 48, "203.0.113.0/24");
	prefix_of("64:ff9b::c633:6407", 24, 48, "198.51.100.0/24");
	/* Teredo: 2001:0:SERVER:FLAGS:PORT:~CLIENT */
	prefix_of("2001:0:4136:e378:8000:63bf:3498:8ef6", 24, 48, "203.103.113.0/24");
	/* look-alikes stay IPv6 */
	prefix_of("2001:db8:2002::1", 24, 48, "2001:db8:2002::/48");
	prefix_of("2001:1::1", 24, 48, "2001:1::/48");
	prefix_of("64:ff9b:1::1", 24, 48, "64:ff9b:1::/48");
	prefix_of("2003:cb00:7109::1", 24, 48, "2003:cb00:7109::/48");
}

static void test_zone_id(void **state)
{
	struct cg_ip ip;

	(void)state;
	prefix_of("fe80::1%eth0", 24, 48, "fe80::/48");
	prefix_of("fe80::abcd:1%2", 24, 64, "fe80::/64");
	assert_int_equal(cg_ip_parse("fe80::1%", &ip), CG_ERR_INVALID);
	assert_int_equal(cg_ip_parse("fe80::1%eth0/x", &ip), CG_ERR_INVALID);
	assert_int_equal(cg_ip_parse("192.0.2.1%eth0", &ip), CG_ERR_INVALID);
}

static void test_garbage(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "01.2.3.4x",
		"2001:db8::1::2", "2001:db8:::1", "gggg::1", "1.2.3.4/24", "unix:", "localhost",
		"::ffff:1.2.3.256", "12345::", "[2001:db8::1]",
	};
	struct cg_ip ip;
	char longer[200];

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_not_equal(cg_ip_parse(bad[i], &ip), CG_OK);
	assert_int_equal(cg_ip_parse(NULL, &ip), CG_ERR_INVALID);
	memset(longer, '1', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	assert_int_equal(cg_ip_parse(longer, &ip), CG_ERR_TOO_LONG);
}

static void test_truncate_bits(void **state)
{
	struct cg_ip ip;

	(void)state;
	assert_int_equal(cg_ip_parse("255.255.255.255", &ip), CG_OK);
	cg_ip_truncate(&ip, 9);
	assert_int_equal(ip.a[0], 0xff);
	assert_int_equal(ip.a[1], 0x80);
	assert_int_equal(ip.a[2], 0);
	cg_ip_truncate(&ip, 0);
	assert_int_equal(ip.a[0], 0);
	assert_int_equal(cg_ip_parse("ffff:ffff:ffff:ffff::", &ip), CG_OK);
	cg_ip_truncate(&ip, 200); /* clamped */
	assert_int_equal(ip.a[7], 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_mapped_is_v4),
		cmocka_unit_test(test_transition_is_v4),
		cmocka_unit_test(test_zone_id),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_truncate_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
