/* fuzz_report_sarif.c -- the report parser on arbitrary input, format forced to sarif. */
#define FUZZ_REPORT_FORMAT TG_REPORT_SARIF
#include "fuzz_report.h"
