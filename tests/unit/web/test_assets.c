/*
 * The UI's files are embedded whole and found by path (web/web.h).
 */
#include "tests/lib/cmocka_all.h"

#include <stdio.h>
#include <string.h>

#include "web/web.h"

static void test_index_and_assets(void **state)
{
	const struct web_asset *i = web_asset_find("/", 1);
	const struct web_asset *js = web_asset_find("/app.js", 7);
	const struct web_asset *css = web_asset_find("/app.css", 8);

	(void)state;
	assert_non_null(i);
	assert_non_null(js);
	assert_non_null(css);
	assert_string_equal(i->type, "text/html; charset=utf-8");
	assert_string_equal(js->type, "text/javascript; charset=utf-8");
	/* Whole files: the page starts and ends as written, and refers to
	 * its script, which ends its closure. */
	assert_int_equal(strlen((const char *)i->data), i->len);
	assert_memory_equal(i->data, "<!doctype html>", 15);
	assert_non_null(strstr((const char *)i->data, "</html>"));
	assert_non_null(strstr((const char *)i->data, "src=\"/app.js\""));
	assert_non_null(strstr((const char *)js->data, "})();"));
	assert_null(web_asset_find("/index.html", 11));
	assert_null(web_asset_find("/app.j", 6));
	assert_null(web_asset_find("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_and_assets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
