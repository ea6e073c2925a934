/* Transfers out of the EEA (transfer.h): the names the configuration takes,
 * their texts, and the countries that need no transfer basis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "consentgate/transfer.h"

static void test_names(void **state)
{
	(void)state;
	assert_null(cg_transfer_name(CG_TRANSFER_NONE));
	assert_null(cg_transfer_text(CG_TRANSFER_NONE));
	assert_string_equal(cg_transfer_name(CG_TRANSFER_DPF), "dpf");
	assert_string_equal(cg_transfer_name(CG_TRANSFER_DEROGATION), "derogation");
	for (int t = CG_TRANSFER_DPF; t <= CG_TRANSFER_DEROGATION; t++)
		assert_non_null(strstr(cg_transfer_text(t), t == CG_TRANSFER_DPF ? "Data Privacy Framework" : "GDPR Art."));
	assert_null(cg_transfer_name(CG_TRANSFER_DEROGATION + 1));
	assert_null(cg_transfer_text(-1));
}

static void test_adequate(void **state)
{
	static const char *const yes[] = {"SE", "DE", "NO", "IS", "LI", "CH", "GB", "JP", "KR", "UY", "AT", "ES"};
	static const char *const no[] = {"US", "CN", "IN", "BR", "RU", "", "S", "SEX", "se", "E ", " S"};

	(void)state;
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		assert_true(cg_country_adequate(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		assert_false(cg_country_adequate(no[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_adequate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
