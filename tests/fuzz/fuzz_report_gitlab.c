/* fuzz_report_gitlab.c -- the report parser on arbitrary input, format forced to gitlab. */
#define FUZZ_REPORT_FORMAT TG_REPORT_GITLAB
#include "fuzz_report.h"
