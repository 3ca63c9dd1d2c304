/* fuzz_report_grype.c -- the report parser on arbitrary input, format forced to grype. */
#define FUZZ_REPORT_FORMAT TG_REPORT_GRYPE
#include "fuzz_report.h"
