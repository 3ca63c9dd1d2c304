/* fuzz_report_auto.c -- the report parser on arbitrary input, format detected. */
#define FUZZ_REPORT_FORMAT TG_REPORT_AUTO
#include "fuzz_report.h"
