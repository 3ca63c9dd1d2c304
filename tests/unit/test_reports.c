/* test_reports.c -- the counting rule (README "Scan reports"), one small document per row.
 *
 * Every document is parsed whole and again fed one byte at a time (chunk boundaries inside
 * tokens and UTF-8 sequences); both must give the same counts. Malformed rows (deep
 * nesting, long numbers, invalid UTF-8, truncation) run here so the ASan build covers them.
 */
#include "decide/reports.h"
#include "decide/reports_impl.h"
#include "unit.h"
#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct row {
    const char *name;
    enum tg_report_format format; /* forced, or AUTO */
    const char *doc;
    const char *counts; /* "C H M L I U", or NULL when an error is expected */
    const char *extra;  /* compact JSON with sorted keys; NULL skips the check */
    const char *err;    /* substring of the error */
};

#define TRIVY(results) "{\"SchemaVersion\":2,\"Results\":" results "}"
#define SARIF(rules, results)                                                                      \
    "{\"runs\":[{\"tool\":{\"driver\":{\"rules\":" rules "}},\"results\":" results "}]}"

static const struct row rows[] = {
    {"trivy: severities in any case, missing/empty -> unknown", 0,
     TRIVY("[{\"Target\":\"t\",\"Vulnerabilities\":[{\"Severity\":\"critical\"},{\"Severity\":"
           "\"High\"},"
           "{\"Severity\":\" MEDIUM "
           "\"},{\"Severity\":\"low\"},{},{\"Severity\":\"\"},{\"Severity\":\"UNKNOWN\"},"
           "{\"Severity\":5}]}]"),
     "1 1 1 1 0 4", "{\"duplicates\":7,\"vulnerabilities\":8}", NULL},
    {"trivy: null and absent lists are zero", 0,
     TRIVY("[{\"Target\":\"a\",\"Vulnerabilities\":null},{\"Target\":\"b\"},{\"Licenses\":null}]"),
     "0 0 0 0 0 0", "{\"duplicates\":0}", NULL},
    {"trivy: misconfigurations count only when failing", 0,
     TRIVY("[{\"Misconfigurations\":[{\"Severity\":\"HIGH\",\"Status\":\"FAIL\"},{\"Severity\":"
           "\"HIGH\","
           "\"Status\":\"PASS\"},{\"Severity\":\"LOW\"},{\"Severity\":\"LOW\",\"Status\":"
           "\"EXCEPTION\"}]}]"),
     "0 1 0 1 0 0", "{\"duplicates\":0,\"misconfig_not_fail\":2,\"misconfigurations\":2}", NULL},
    {"trivy: a Status Trivy does not write (issue 9)", 0,
     TRIVY("[{\"Misconfigurations\":[{\"Status\":\"fail\"}]}]"), NULL, NULL,
     "trivy: byte 69: $.Results[0].Misconfigurations[0].Status is \"fail\", not a Trivy status "
     "(FAIL, PASS, EXCEPTION)"},
    {"trivy: a null Status", 0,
     TRIVY("[{\"Misconfigurations\":[{\"Severity\":\"LOW\"},{\"Status\":null}]}]"), NULL, NULL,
     "$.Results[0].Misconfigurations[1].Status is null, not a Trivy status"},
    {"trivy: a Status list", 0, TRIVY("[{\"Misconfigurations\":[{\"Status\":[\"FAIL\"]}]}]"), NULL,
     NULL, "$.Results[0].Misconfigurations[0].Status is a list, not a Trivy status"},
    {"trivy: secrets count, licenses apart", 0,
     TRIVY("[{\"Secrets\":[{\"Severity\":\"CRITICAL\"}],\"Licenses\":[{\"Severity\":\"HIGH\"},{"
           "\"Severity\":\"LOW\"}]},"
           "{\"Licenses\":[{}]}]"),
     "1 0 0 0 0 0", "{\"duplicates\":0,\"licenses\":3,\"secrets\":1}", NULL},
    {"trivy: duplicates by (Target, id, package, version, path), Target after the list", 0,
     TRIVY("[{\"Vulnerabilities\":[{\"VulnerabilityID\":\"X\",\"PkgName\":\"p\",\"Severity\":"
           "\"LOW\"},"
           "{\"PkgName\":\"p\",\"VulnerabilityID\":\"X\",\"Severity\":\"LOW\"}],\"Target\":\"t\"},"
           "{\"Target\":\"u\",\"Vulnerabilities\":[{\"VulnerabilityID\":\"X\",\"PkgName\":\"p\"}]},"
           "{\"Target\":\"u\",\"Vulnerabilities\":[{\"VulnerabilityID\":\"X\",\"PkgName\":\"p\","
           "\"PkgPath\":null}]}]"),
     "0 0 0 2 0 2", "{\"duplicates\":2,\"vulnerabilities\":4}", NULL},
    {"trivy: 1 and 1.0 are one identity (numbers are equal by value)", 0,
     TRIVY("[{\"Vulnerabilities\":[{\"VulnerabilityID\":1},{\"VulnerabilityID\":1.0},{"
           "\"VulnerabilityID\":\"1\"}]}]"),
     "0 0 0 0 0 3", "{\"duplicates\":1,\"vulnerabilities\":3}", NULL},
    {"trivy: legacy list of Results", 0,
     "[{\"Target\":\"a\",\"Vulnerabilities\":[{\"Severity\":\"HIGH\"}]},{\"Class\":\"os-pkgs\"},{"
     "\"Type\":\"x\"}]",
     "0 1 0 0 0 0", "{\"duplicates\":0,\"vulnerabilities\":1}", NULL},
    {"trivy: the empty legacy list", 0, "[]", "0 0 0 0 0 0", "{\"duplicates\":0}", NULL},
    {"detect: a list with a non-object entry is not a Trivy report", 0,
     "[{\"Target\":\"a\",\"Vulnerabilities\":[{\"Severity\":\"HIGH\"}]},5]", NULL, NULL,
     "auto: byte 0: not a known report (a list whose entries are not Trivy Results"},
    {"detect: a list with an object that has no Result key", 0, "[{\"Target\":\"a\"},{}]", NULL,
     NULL, "not a known report (a list"},
    {"detect: an OSV-Scanner-like list (issue 9)", 0,
     "[{\"source\":{\"path\":\"/app/"
     "package-lock.json\",\"type\":\"lockfile\"},\"packages\":[{\"package\":"
     "{\"name\":\"lodash\"},\"vulnerabilities\":[{\"id\":\"GHSA-1\"}]}]}]",
     NULL, NULL, "not a known report (a list"},
    {"detect: a Prowler list (issue 9)", 0,
     "[{\"CheckID\":\"iam_root_mfa_enabled\",\"Status\":\"FAIL\",\"Severity\":\"critical\","
     "\"ResourceId\":\"r\"}]",
     NULL, NULL, "not a known report (a list"},
    {"detect: a CycloneDX BOM with vulnerabilities (issue 9)", 0,
     "{\"bomFormat\":\"CycloneDX\",\"specVersion\":\"1.5\",\"vulnerabilities\":[{\"id\":\"CVE-1\","
     "\"ratings\":"
     "[{\"severity\":\"critical\"}]}]}",
     NULL, NULL, "auto: byte 0: not a supported report (a CycloneDX BOM"},
    {"trivy: the legacy empty report is null", 0, "null", "0 0 0 0 0 0", "{\"duplicates\":0}",
     NULL},
    {"trivy: k8s cluster report", 0,
     "{\"ClusterName\":\"c\",\"Vulnerabilities\":[{\"Namespace\":\"n\",\"Results\":[{\"Target\":"
     "\"i\","
     "\"Vulnerabilities\":[{\"Severity\":\"MEDIUM\"}]}]}],\"Misconfigurations\":[{\"Results\":[{"
     "\"Target\":\"m\","
     "\"Misconfigurations\":[{\"Severity\":\"LOW\",\"Status\":\"FAIL\"}]}]}],\"Resources\":[{"
     "\"Results\":"
     "[{\"Secrets\":[{\"Severity\":\"HIGH\"}]}]}]}",
     "0 1 1 1 0 0",
     "{\"duplicates\":0,\"misconfigurations\":1,\"secrets\":1,\"vulnerabilities\":1}", NULL},
    {"trivy: Results beside k8s keys is refused (which counts would be a guess)", 0,
     "{\"Vulnerabilities\":[],\"Results\":[{\"Secrets\":[{\"Severity\":\"LOW\"}]}]}", NULL, NULL,
     "auto: byte 0: not a known report (both a Trivy \"Results\" list and trivy k8s keys)"},
    {"trivy k8s: Findings read like Resources", 0,
     "{\"ClusterName\":\"c\",\"Findings\":[{\"Results\":[{\"Secrets\":[{\"Severity\":\"LOW\"}]}]}]"
     "}",
     "0 0 0 1 0 0", "{\"duplicates\":0,\"secrets\":1}", NULL},
    {"trivy k8s: SchemaVersion does not hide Resources", 0,
     "{\"SchemaVersion\":2,\"ClusterName\":\"c\",\"Resources\":[{\"Results\":[{\"Secrets\":[{"
     "\"Severity\":\"HIGH\"}]}]}]}",
     "0 1 0 0 0 0", NULL, NULL},
    {"trivy k8s: nothing readable", 0, "{\"ClusterName\":\"c\",\"Summary\":[]}", NULL, NULL,
     "a trivy k8s \"ClusterName\" without any of Resources, Findings"},
    {"trivy: SchemaVersion a string (AWS Security Hub)", 0,
     "{\"SchemaVersion\":\"2018-10-08\",\"Resources\":[]}", NULL, NULL,
     "SchemaVersion is \"2018-10-08\", not the integer 2"},
    {"trivy legacy: an entry with an array no Result has", 0, "[{\"Type\":\"x\",\"vulns\":[{}]}]",
     NULL, NULL, "a list whose entries are not Trivy Results"},
    {"trivy: Results as a string", 0, "{\"Results\":\"abc\"}", NULL, NULL,
     "trivy: byte 16: $.Results is a string, not an array"},
    {"trivy: Results as an object (issue 9)", 0,
     "{\"SchemaVersion\": 2, \"Results\": {\"Vulnerabilities\": 7}}", NULL, NULL,
     "$.Results is an object, not an array"},
    {"trivy: Vulnerabilities as an object (issue 9)", 0,
     TRIVY("[{\"Target\":\"t\",\"Vulnerabilities\":{\"VulnerabilityID\":\"CVE-1\",\"Severity\":"
           "\"CRITICAL\"}}]"),
     NULL, NULL, "$.Results[0].Vulnerabilities is an object, not an array"},
    {"trivy: an empty object where a list is expected", 0, TRIVY("[{\"Secrets\":{}}]"), NULL, NULL,
     "$.Results[0].Secrets is an object"},
    {"trivy: a string where a list is expected", 0, TRIVY("[{\"Vulnerabilities\":\"abc\"}]"), NULL,
     NULL, "trivy: byte 54: $.Results[0].Vulnerabilities is a string, not an array"},
    {"trivy: an empty string, false or 0 where a list is expected", 0,
     TRIVY("[{\"Licenses\":\"\"}]"), NULL, NULL, "$.Results[0].Licenses is a string, not an array"},
    {"trivy: false where a list is expected", 0, TRIVY("[{\"Misconfigurations\":false}]"), NULL,
     NULL, "is false"},
    {"trivy: a number where a list is expected", 0, TRIVY("[{\"Secrets\":0}]"), NULL, NULL,
     "is a number"},
    {"trivy: an element that is not an object", 0, TRIVY("[{\"Vulnerabilities\":[{},1]}]"), NULL,
     NULL, "$.Results[0].Vulnerabilities[1] is a number, not an object"},
    {"trivy: a Results entry that is not an object", 0, TRIVY("[null]"), NULL, NULL,
     "$.Results[0] is null, not an object"},
    {"trivy: k8s resources' Results", 0,
     "{\"ClusterName\":\"c\",\"Resources\":[{\"Results\":[]},{\"Results\":7}]}", NULL, NULL,
     "$.Resources[1].Results is a number, not an array"},
    {"trivy: a legacy Result's list", 0, "[{\"Target\":\"a\",\"Secrets\":\"x\"}]", NULL, NULL,
     "trivy: byte 28: $[0].Secrets is a string, not an array"},
    {"trivy: a list as an identity field", 0, TRIVY("[{\"Vulnerabilities\":[{\"PkgName\":[1]}]}]"),
     NULL, NULL,
     "$.Results[0].Vulnerabilities[0].PkgName is a list, not a scalar (an identity field)"},
    {"trivy: a repeated list key is refused", 0, TRIVY("[{\"Secrets\":[],\"Secrets\":[]}]"), NULL,
     NULL, "$.Results[0].Secrets: duplicate key"},
    {"trivy: a repeated scalar key keeps its last value", 0,
     TRIVY("[{\"Secrets\":[{\"Severity\":\"LOW\",\"Severity\":\"CRITICAL\"}]}]"), "1 0 0 0 0 0",
     NULL, NULL},
    {"trivy: NUL inside a severity is not trimmed", 0,
     TRIVY("[{\"Secrets\":[{\"Severity\":\"HIGH\\u0000\"}]}]"), "0 0 0 0 0 1", NULL, NULL},
    {"trivy: unicode white space is trimmed, the Kelvin sign lowers to k", 0,
     TRIVY("[{\"Secrets\":[{\"Severity\":\"\\u00a0HIGH\\u3000\"},{\"Severity\":\"UN\\u212aNOWN\"}]}"
           "]"),
     "0 1 0 0 0 1", NULL, NULL},

    {"horusec: every type counts, split reported", 0,
     "{\"version\":\"v2.8.0\",\"status\":\"error\",\"analysisVulnerabilities\":[{"
     "\"vulnerabilities\":"
     "{\"severity\":\"HIGH\",\"type\":\"Vulnerability\"}},{\"vulnerabilities\":{\"severity\":"
     "\"info\","
     "\"type\":\"False Positive\"}},{\"vulnerabilities\":null}]}",
     "0 1 0 0 1 1",
     "{\"status\":\"error\",\"types\":{\"False Positive\":1,\"Vulnerability\":1,\"null\":1},"
     "\"version\":\"v2.8.0\"}",
     NULL},
    {"horusec: null list", 0, "{\"analysisVulnerabilities\":null}", "0 0 0 0 0 0",
     "{\"status\":null,\"types\":{},\"version\":null}", NULL},
    {"horusec: vulnerabilities that is not an object", 0,
     "{\"analysisVulnerabilities\":[{\"vulnerabilities\":7}]}", NULL, NULL,
     "$.analysisVulnerabilities[0].vulnerabilities is a number, not an object"},
    {"horusec: analysisVulnerabilities that is not a list", 0,
     "{\"analysisVulnerabilities\":\"x\"}", NULL, NULL,
     "horusec: byte 30: $.analysisVulnerabilities is a string, not an array"},

    {"gitlab: Undefined, null and missing severities are unknown", 0,
     "{\"version\":\"15.0.7\",\"scan\":{\"type\":\"sast\"},\"vulnerabilities\":[{\"severity\":"
     "\"Critical\"},"
     "{\"severity\":\"Undefined\"},{},{\"severity\":\"Info\"},{\"severity\":null}]}",
     "1 0 0 0 1 3", "{\"scan_type\":\"sast\",\"schema_version\":\"15.0.7\",\"severity_missing\":1}",
     NULL},
    {"gitlab: old schema without scan", 0, "{\"version\":\"2.3\",\"vulnerabilities\":[]}",
     "0 0 0 0 0 0", "{\"scan_type\":null,\"schema_version\":\"2.3\",\"severity_missing\":0}", NULL},
    {"gitlab: scan that is not an object", 0, "{\"scan\":\"x\",\"vulnerabilities\":[]}", NULL, NULL,
     "gitlab: byte 11: $.scan is a string, not an object"},
    {"gitlab: vulnerabilities that is an object", 0,
     "{\"vulnerabilities\":{\"severity\":\"High\"}}", NULL, NULL,
     "gitlab: byte 20: $.vulnerabilities is an object, not an array"},

    {"grype: Negligible is info, duplicates by (id, name, version)", 0,
     "{\"matches\":[{\"vulnerability\":{\"id\":\"CVE-1\",\"severity\":\"Negligible\"},\"artifact\":"
     "{\"name\":\"a\","
     "\"version\":\"1\"}},{\"artifact\":{\"version\":\"1\",\"name\":\"a\"},\"vulnerability\":{"
     "\"severity\":"
     "\"Critical\",\"id\":\"CVE-1\"}},{\"vulnerability\":{\"id\":\"CVE-2\"}},{}]}",
     "1 0 0 0 1 2", "{\"duplicates\":1}", NULL},
    {"grype: matches that is an object", 0, "{\"matches\":{}}", NULL, NULL,
     "grype: byte 12: $.matches is an object"},
    {"grype: a match that is not an object", 0, "{\"matches\":[{},[]]}", NULL, NULL,
     "$.matches[1] is a list, not an object"},

    {"sarif: level from the rule's default, by ruleIndex then ruleId", 0,
     SARIF("[{\"id\":\"R1\",\"defaultConfiguration\":{\"level\":\"error\"}},{\"id\":\"R2\","
           "\"defaultConfiguration\":"
           "{\"level\":\"note\"}}]",
           "[{\"ruleIndex\":1},{\"ruleId\":\"R1\"},{\"ruleId\":\"R9\"},{\"level\":\"none\","
           "\"ruleId\":\"R1\"},"
           "{\"ruleIndex\":7,\"ruleId\":\"R2\"}]"),
     "0 1 1 2 1 0",
     "{\"levels\":{\"error\":1,\"none\":1,\"note\":2,\"warning\":1},\"not_failing\":0,\"runs\":1,"
     "\"suppressed\":0,"
     "\"with_security_severity\":0}",
     NULL},
    {"sarif: extension rules, rules after results, rule.id", 0,
     "{\"runs\":[{\"results\":[{\"ruleId\":\"X1\"},{\"rule\":{\"id\":\"X2\"}},{\"ruleId\":\"D\"}],"
     "\"tool\":"
     "{\"extensions\":[{\"rules\":[{\"id\":\"X1\",\"properties\":{\"security-severity\":\"9.1\"}},{"
     "\"id\":\"X2\","
     "\"defaultConfiguration\":{\"level\":\"note\"}},{\"id\":\"D\",\"defaultConfiguration\":{"
     "\"level\":\"note\"}}]}],"
     "\"driver\":{\"rules\":[{\"id\":\"D\",\"defaultConfiguration\":{\"level\":\"error\"}}]}}}]}",
     "1 1 0 1 0 0",
     "{\"levels\":{\"error\":1,\"note\":1,\"warning\":1},\"not_failing\":0,\"runs\":1,"
     "\"suppressed\":0,"
     "\"with_security_severity\":1}",
     NULL},
    {"sarif: security-severity bands and words, suppressed excluded", 0,
     SARIF("[{\"id\":\"a\",\"properties\":{\"security-severity\":\"7.0\"}},{\"id\":\"b\","
           "\"properties\":"
           "{\"security-severity\":\"HIGH\"}},{\"id\":\"c\",\"properties\":{\"security-severity\":"
           "\"0\"}},"
           "{\"id\":\"d\",\"properties\":{\"security-severity\":\"bogus\"}},{\"id\":\"e\","
           "\"properties\":"
           "{\"security-severity\":3.9}}]",
           "[{\"ruleId\":\"a\"},{\"ruleId\":\"b\"},{\"ruleId\":\"c\"},{\"ruleId\":\"d\",\"level\":"
           "\"error\"},"
           "{\"ruleId\":\"e\"},{\"ruleId\":\"a\",\"suppressions\":[{\"kind\":\"external\"}]},"
           "{\"ruleId\":\"a\",\"suppressions\":[]}]"),
     "0 4 0 1 1 0",
     "{\"levels\":{\"error\":1,\"warning\":5},\"not_failing\":0,\"runs\":1,\"suppressed\":1,"
     "\"with_security_severity\":5}",
     NULL},
    {"sarif: a security-severity that is not a plain score 0..10 is ignored, the level decides", 0,
     SARIF(
         "[{\"id\":\"a\",\"properties\":{\"security-severity\":\" 9_5 "
         "\"}},{\"id\":\"b\",\"properties\":"
         "{\"security-severity\":\"NaN\"}},{\"id\":\"c\",\"properties\":{\"security-severity\":"
         "\"1e1\"}},"
         "{\"id\":\"d\",\"properties\":{\"security-severity\":\"Infinity\"}},{\"id\":\"e\","
         "\"properties\":"
         "{\"security-severity\":-1}},{\"id\":\"f\",\"properties\":{\"security-severity\":\"10.5\"}"
         "},"
         "{\"id\":\"g\",\"properties\":{\"security-severity\":true}},{\"id\":\"h\",\"properties\":"
         "{\"security-severity\":\" "
         "9.8\\n\"}},{\"id\":\"i\",\"properties\":{\"security-severity\":1e1}}]",
         "[{\"ruleIndex\":0,\"level\":\"note\"},{\"ruleIndex\":1},{\"ruleIndex\":2,\"level\":"
         "\"error\"},{\"ruleIndex\":3},"
         "{\"ruleIndex\":4},{\"ruleIndex\":5},{\"ruleIndex\":6,\"level\":\"none\"},{\"ruleIndex\":"
         "7},{\"ruleIndex\":8}]"),
     "2 1 4 1 1 0",
     "{\"levels\":{\"error\":1,\"none\":1,\"note\":1,\"warning\":6},\"not_failing\":0,\"runs\":1,"
     "\"suppressed\":0,\"with_security_severity\":2}",
     NULL},
    {"sarif: version 2.1 and $schema without runs", 0, "{\"$schema\":\"s\",\"version\":2.1}",
     "0 0 0 0 0 0",
     "{\"levels\":{},\"not_failing\":0,\"runs\":0,\"suppressed\":0,\"with_security_severity\":0}",
     NULL},
    {"sarif: passing checks are not findings (issue 9)", 0,
     "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"k\",\"rules\":[{\"id\":"
     "\"r1\","
     "\"defaultConfiguration\":{\"level\":\"error\"}}]}},\"results\":[{\"ruleId\":\"r1\","
     "\"ruleIndex\":0,\"kind\":"
     "\"fail\",\"message\":{\"text\":\"a\"}},{\"ruleId\":\"r1\",\"ruleIndex\":0,\"kind\":\"pass\","
     "\"message\":"
     "{\"text\":\"a\"}}]}]}",
     "0 1 0 0 0 0",
     "{\"levels\":{\"error\":1},\"not_failing\":1,\"runs\":1,\"suppressed\":0,"
     "\"with_security_severity\":0}",
     NULL},
    {"sarif: every kind SARIF defines besides fail is not failing", 0,
     SARIF("[]", "[{\"kind\":\"pass\"},{\"kind\":\"open\"},{\"kind\":\"informational\"},{\"kind\":"
                 "\"notApplicable\"},"
                 "{\"kind\":\"review\"},{\"kind\":\"fail\"},{}]"),
     "0 0 2 0 0 0",
     "{\"levels\":{\"warning\":2},\"not_failing\":5,\"runs\":1,\"suppressed\":0,"
     "\"with_security_severity\":0}",
     NULL},
    {"sarif: a kind SARIF does not define", 0, SARIF("[]", "[{},{\"kind\":\"Pass\"}]"), NULL, NULL,
     "sarif: byte 70: $.runs[0].results[1].kind is \"Pass\", not a SARIF result kind"},
    {"sarif: a null kind", 0, SARIF("[]", "[{\"kind\":null}]"), NULL, NULL,
     "$.runs[0].results[0].kind is null"},
    {"sarif: a rejected or under-review suppression leaves the result counted (issue 9)", 0,
     SARIF("[{\"id\":\"a\",\"properties\":{\"security-severity\":\"9.1\"}}]",
           "[{\"ruleId\":\"a\",\"suppressions\":[{\"kind\":\"external\",\"status\":\"rejected\"}]},"
           "{\"ruleId\":\"a\",\"suppressions\":[{\"status\":\"underReview\"}]},"
           "{\"ruleId\":\"a\",\"suppressions\":[{\"status\":\"accepted\"},{\"status\":\"rejected\"}"
           "]},"
           "{\"ruleId\":\"a\",\"suppressions\":[{\"status\":\"accepted\"},{}]},"
           "{\"ruleId\":\"a\",\"suppressions\":null}]"),
     "4 0 0 0 0 0",
     "{\"levels\":{\"warning\":4},\"not_failing\":0,\"runs\":1,\"suppressed\":1,"
     "\"with_security_severity\":4}",
     NULL},
    {"sarif: a suppression status SARIF does not define", 0,
     SARIF("[]", "[{\"suppressions\":[{\"status\":\"accepted\"},{\"status\":\"Accepted\"}]}]"),
     NULL, NULL,
     "$.runs[0].results[0].suppressions[1].status is \"Accepted\", not a SARIF suppression status"},
    {"sarif: suppressions that is an object", 0,
     SARIF("[]", "[{\"suppressions\":{\"status\":\"accepted\"}}]"), NULL, NULL,
     "$.runs[0].results[0].suppressions is an object, not an array"},
    {"sarif: a suppression that is not an object", 0, SARIF("[]", "[{\"suppressions\":[true]}]"),
     NULL, NULL, "$.runs[0].results[0].suppressions[0] is true, not an object"},
    {"sarif: toolComponent.index selects the extension's rules (issue 9)", 0,
     "{\"runs\":[{\"tool\":{\"driver\":{\"rules\":[{\"id\":\"d0\",\"defaultConfiguration\":{"
     "\"level\":\"note\"}}]},"
     "\"extensions\":[{\"rules\":[]},{\"rules\":[{\"id\":\"x0\",\"properties\":{\"security-"
     "severity\":\"9.8\"}}]}]},"
     "\"results\":[{\"rule\":{\"index\":0,\"toolComponent\":{\"index\":1}}},"
     "{\"ruleIndex\":0,\"rule\":{\"toolComponent\":{\"index\":1}}},"
     "{\"rule\":{\"index\":0}},{\"ruleIndex\":0},"
     "{\"rule\":{\"id\":\"d0\",\"index\":0,\"toolComponent\":{\"index\":0}}},"
     "{\"ruleId\":\"x0\",\"rule\":{\"index\":0,\"toolComponent\":{\"index\":7}}}]}]}",
     "3 0 0 3 0 0",
     "{\"levels\":{\"note\":3,\"warning\":3},\"not_failing\":0,\"runs\":1,\"suppressed\":0,"
     "\"with_security_severity\":3}",
     NULL},
    {"sarif: rule.index before ruleIndex, even when null", 0,
     SARIF("[{\"id\":\"a\",\"defaultConfiguration\":{\"level\":\"error\"}}]",
           "[{\"ruleIndex\":0,\"rule\":{\"index\":null}},{\"ruleIndex\":0,\"rule\":\"x\"}]"),
     "0 1 1 0 0 0", NULL, NULL},
    {"sarif: runs that is a number", 0, "{\"runs\":5}", NULL, NULL,
     "sarif: byte 9: $.runs is a number, not an array"},
    {"sarif: results that is an object", 0, "{\"runs\":[{\"results\":{}}]}", NULL, NULL,
     "$.runs[0].results is an object, not an array"},
    {"sarif: rules that is an object", 0, SARIF("{}", "[]"), NULL, NULL,
     "$.runs[0].tool.driver.rules is an object"},
    {"sarif: an extension that is not an object", 0,
     "{\"runs\":[{\"tool\":{\"extensions\":[null]}}]}", NULL, NULL,
     "$.runs[0].tool.extensions[0] is null, not an object"},
    {"sarif: a rule's defaultConfiguration is judged only when used", 0,
     SARIF("[{\"id\":\"a\",\"defaultConfiguration\":\"x\"}]",
           "[{\"ruleId\":\"a\",\"level\":\"note\"}]"),
     "0 0 0 1 0 0", NULL, NULL},
    {"sarif: ... and fails when it is", 0,
     SARIF("[{\"id\":\"a\",\"defaultConfiguration\":\"x\"}]", "[{\"ruleId\":\"a\"}]"), NULL, NULL,
     "defaultConfiguration"},

    {"detect: runs beside Results is refused", 0, "{\"Results\":[{\"Secrets\":[{}]}],\"runs\":[]}",
     NULL, NULL,
     "auto: byte 0: not a known report (top-level keys of two formats: \"runs\" (sarif) and "
     "\"Results\" (trivy))"},
    {"detect: matches beside vulnerabilities is refused", 0,
     "{\"matches\":[],\"vulnerabilities\":[{}]}", NULL, NULL,
     "top-level keys of two formats: \"matches\" (grype) and \"vulnerabilities\" (gitlab)"},
    {"detect: nothing known", 0, "{\"foo\":1}", NULL, NULL, "auto: byte 0: not a known report"},
    {"syntax: a byte order mark is named", 0, "\xef\xbb\xbf{\"matches\":[]}", NULL, NULL,
     "auto: byte 0: invalid JSON: the file begins with a UTF-8 byte order mark (EF BB BF)"},
    {"syntax: an invalid char is at its own offset", 0, "{\"matches\":\x01}", NULL, NULL,
     "grype: byte 11: invalid JSON: lexical error: invalid char"},
    {"sarif: a rule id is looked up in the named extension first", 0,
     "{\"runs\":[{\"tool\":{\"driver\":{\"rules\":[{\"id\":\"x\",\"properties\":{\"security-"
     "severity\":2}}]},"
     "\"extensions\":[{\"rules\":[{\"id\":\"x\",\"properties\":{\"security-severity\":9.9}}]}]},"
     "\"results\":[{\"ruleId\":\"x\",\"rule\":{\"toolComponent\":{\"index\":0}}},{\"ruleId\":\"x\"}"
     "]}]}",
     "1 0 0 1 0 0", NULL, NULL},
    {"sarif: a hierarchical rule id finds its leading components' rule", 0,
     SARIF("[{\"id\":\"a/b\",\"properties\":{\"security-severity\":\"9\"}}]",
           "[{\"ruleId\":\"a/b/c/d\"},{\"ruleId\":\"a/bc\"},{\"ruleId\":\"a\"}]"),
     "1 0 2 0 0 0", NULL, NULL},
    {"sarif: a level SARIF does not define", 0, SARIF("[]", "[{\"level\":\"Error\"}]"), NULL, NULL,
     "$.runs[0].results[0].level is \"Error\", not a SARIF level"},
    {"sarif: executionSuccessful false is still counted", 0,
     "{\"runs\":[{\"invocations\":[{\"executionSuccessful\":false}],\"results\":[{\"level\":"
     "\"error\"}]}]}",
     "0 1 0 0 0 0", NULL, NULL},
    {"detect: a bare number", 0, "5", NULL, NULL, "not a known report"},
    {"forced: horusec on a list", TG_REPORT_HORUSEC, "[]", NULL, NULL,
     "horusec: byte 0: expected a horusec report, the document is a list"},
    {"forced: gitlab refuses a trivy report", TG_REPORT_GITLAB, "{\"Results\":5}", NULL, NULL,
     "gitlab: byte 0: expected a gitlab report, the document is a trivy report"},
    {"forced: sarif refuses a gitlab report (never read as empty)", TG_REPORT_SARIF,
     "{\"vulnerabilities\":[{}]}", NULL, NULL,
     "sarif: byte 0: expected a sarif report, the document is a gitlab report"},
    {"forced: trivy refuses another tool's list", TG_REPORT_TRIVY,
     "[{\"source\":{},\"packages\":[]}]", NULL, NULL,
     "trivy: byte 0: expected a trivy report, the document is not a known report (a list"},
    {"forced: gitlab refuses a CycloneDX BOM", TG_REPORT_GITLAB,
     "{\"bomFormat\":\"CycloneDX\",\"vulnerabilities\":[]}", NULL, NULL,
     "expected a gitlab report, the document is not a supported report (a CycloneDX BOM"},
    {"forced: the same format counts", TG_REPORT_GRYPE, "{\"matches\":[{}]}", "0 0 0 0 0 1", NULL,
     NULL},

    {"malformed: empty", 0, "", NULL, NULL, "byte 0: invalid JSON"},
    {"malformed: truncated", 0, "{\"Results\": [{\"Target\"", NULL, NULL,
     "trivy: byte 22: invalid JSON"},
    {"malformed: trailing garbage", 0, "{\"Results\":[]} x", NULL, NULL, "invalid JSON"},
    {"malformed: invalid UTF-8", 0, "{\"Results\":[{\"Target\":\"\xff\"}]}", NULL, NULL,
     "trivy: byte 23: invalid UTF-8"},
    {"malformed: an encoded surrogate", 0, "{\"runs\":[],\"x\":\"\xed\xa0\x80\"}", NULL, NULL,
     "invalid UTF-8"},
    {"malformed: an overlong encoding", 0, "{\"runs\":[],\"x\":\"\xc0\xaf\"}", NULL, NULL,
     "invalid UTF-8"},
    {"malformed: a raw control character", 0, "{\"runs\":[],\"x\":\"\x01\"}", NULL, NULL,
     "invalid JSON"},
    {"malformed: NaN is not JSON", 0, "{\"runs\":[],\"x\":NaN}", NULL, NULL, "invalid JSON"},
};

static void counts_text(const struct tg_report_summary *s, char *out, size_t n)
{
    snprintf(
        out, n, "%llu %llu %llu %llu %llu %llu", (unsigned long long)s->counts[TG_SEV_CRITICAL],
        (unsigned long long)s->counts[TG_SEV_HIGH], (unsigned long long)s->counts[TG_SEV_MEDIUM],
        (unsigned long long)s->counts[TG_SEV_LOW], (unsigned long long)s->counts[TG_SEV_INFO],
        (unsigned long long)s->counts[TG_SEV_UNKNOWN]);
}

/* Feeds the document one byte at a time: every token and UTF-8 sequence gets split. */
static int parse_bytewise(const char *doc, size_t n, const struct tg_report_options *opt,
                          struct tg_report_summary *out, char *err, size_t errlen)
{
    struct tg_report_parser *p = tg_report_parser_new(opt);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tg_report_parser_feed(p, doc + i, 1, err, errlen);
    if (rc == 0)
        rc = tg_report_parser_finish(p, out, err, errlen);
    tg_report_parser_free(p);
    return rc;
}

static void check_row(const struct row *r)
{
    struct tg_report_options opt = {.format = r->format, .top = 3};
    struct tg_report_summary s, s1;
    char err[512] = "", err1[512] = "", got[64], got1[64];
    size_t n = strlen(r->doc);
    int rc = tg_report_parse_buf(&(struct tg_report_doc){r->doc, n}, &opt, &s, err, sizeof err);
    int rc1 = parse_bytewise(r->doc, n, &opt, &s1, err1, sizeof err1);
    UNIT_CHECK(r->name, rc == (r->counts ? 0 : -1));
    UNIT_CHECK(r->name, rc1 == rc);
    if (rc < 0) {
        UNIT_CHECK(r->name, r->err && strstr(err, r->err) != NULL);
        if (r->err && strstr(err, r->err) == NULL)
            fprintf(stderr, "  error was: %s\n", err);
        return;
    }
    counts_text(&s, got, sizeof got);
    counts_text(&s1, got1, sizeof got1);
    UNIT_STREQ(r->name, got, r->counts);
    UNIT_STREQ(r->name, got1, r->counts);
    if (r->extra) {
        char *extra = json_dumps(s.extra, JSON_COMPACT | JSON_SORT_KEYS);
        UNIT_STREQ(r->name, extra, r->extra);
        free(extra);
    }
    tg_report_summary_dispose(&s);
    tg_report_summary_dispose(&s1);
}

/* ---- top-N and the visitor ---- */

#define FIVE                                                                                       \
    TRIVY(                                                                                         \
        "[{\"Vulnerabilities\":[{\"VulnerabilityID\":\"A\",\"Severity\":\"LOW\"},{"                \
        "\"VulnerabilityID\":"                                                                     \
        "\"B\",\"Severity\":\"CRITICAL\",\"PkgName\":\"pb\",\"InstalledVersion\":\"1\","           \
        "\"FixedVersion\":"                                                                        \
        "\"2\"},{\"VulnerabilityID\":\"C\",\"Severity\":\"HIGH\"},{\"VulnerabilityID\":\"D\","     \
        "\"Severity\":"                                                                            \
        "\"CRITICAL\"},{\"VulnerabilityID\":\"E\",\"Severity\":\"MEDIUM\"}],\"Target\":\"img\"}]")

struct top_row {
    const char *name;
    enum tg_report_format format;
    size_t top;
    const char *findings; /* "id/severity/file ..." */
    const char *visits;   /* "id:severity ..." */
};

static const struct top_row top_rows[] = {
    {"top 3, ties in file order, Target patched in", TG_REPORT_AUTO, 3,
     "B/critical/img D/critical/img C/high/img", "A:low B:critical C:high D:critical E:medium"},
    {"top 10 keeps all, forced format visits while parsing", TG_REPORT_TRIVY, 10,
     "B/critical/img D/critical/img C/high/img E/medium/img A/low/img",
     "A:low B:critical C:high D:critical E:medium"},
    {"top 0 keeps none", TG_REPORT_AUTO, 0, "", "A:low B:critical C:high D:critical E:medium"},
};

static void on_visit(void *arg, const char *id, size_t idlen, enum tg_severity sev)
{
    struct tg_buf *b = arg;
    tg_buf_printf(b, "%s%.*s:%s", b->len ? " " : "", (int)idlen, id, tg_severity_name(sev));
}

static void check_top(const struct top_row *r)
{
    struct tg_buf visits, found;
    tg_buf_init(&visits);
    tg_buf_init(&found);
    struct tg_report_options opt = {
        .format = r->format, .top = r->top, .visit = on_visit, .visit_arg = &visits};
    struct tg_report_summary s;
    char err[256];
    UNIT_CHECK(r->name, tg_report_parse_buf(&(struct tg_report_doc){FIVE, strlen(FIVE)}, &opt, &s,
                                            err, sizeof err) == 0);
    for (size_t i = 0; i < s.nfindings; i++)
        tg_buf_printf(&found, "%s%s/%s/%s", i ? " " : "", s.findings[i].id,
                      tg_severity_name(s.findings[i].severity), s.findings[i].file);
    UNIT_STREQ(r->name, found.data ? found.data : "", r->findings);
    UNIT_STREQ(r->name, visits.data, r->visits);
    if (s.nfindings > 0 && strcmp(s.findings[0].id, "B") == 0) {
        UNIT_STREQ(r->name, s.findings[0].package, "pb");
        UNIT_STREQ(r->name, s.findings[0].fixed, "2");
    }
    tg_report_summary_dispose(&s);
    tg_buf_dispose(&visits);
    tg_buf_dispose(&found);
}

/* ---- documents too big to write inline ---- */

struct big_row {
    const char *name;
    const char *head, *unit, *tail;
    size_t repeat;
    const char *err; /* NULL: must parse */
};

static const struct big_row big_rows[] = {
    {"100,000 levels of nesting", "", "[", "", 100000, "nesting deeper than 10000 levels"},
    {"100,000 levels of objects", "", "{\"a\":", "", 100000, "nesting deeper than 10000 levels"},
    {"10,000 levels are allowed", "{\"runs\":[],\"x\":", "[", "1", 9998, NULL},
    {"an integer with 10,000 digits", "{\"runs\":[],\"x\":", "1", "}", 10000,
     "integer with 10000 digits"},
    {"a float with 10,000 digits parses (an infinite value)", "{\"runs\":[],\"x\":", "1", ".5}",
     10000, NULL},
    {"a 1 MB string", "{\"runs\":[],\"x\":\"", "\\u0000", "\"}", 200000, NULL},
    {"truncated inside a long string", "{\"runs\":[],\"x\":\"", "abc", "", 100000, "invalid JSON"},
};

static void check_big(const struct big_row *r)
{
    struct tg_buf b;
    tg_buf_init(&b);
    tg_buf_puts(&b, r->head);
    for (size_t i = 0; i < r->repeat; i++)
        tg_buf_puts(&b, r->unit);
    tg_buf_puts(&b, r->tail);
    if (r->err == NULL && r->unit[0] == '[')
        for (size_t i = 0; i < r->repeat; i++)
            tg_buf_putc(&b, ']');
    if (r->err == NULL && r->unit[0] == '[')
        tg_buf_putc(&b, '}');
    struct tg_report_options opt = {.top = 10};
    struct tg_report_summary s;
    char err[512] = "";
    int rc = tg_report_parse_buf(&(struct tg_report_doc){b.data, b.len}, &opt, &s, err, sizeof err);
    UNIT_CHECK(r->name, rc == (r->err ? -1 : 0));
    if (r->err)
        UNIT_CHECK(r->name, strstr(err, r->err) != NULL);
    if (rc == 0)
        tg_report_summary_dispose(&s);
    if (rc < 0 && r->err == NULL)
        fprintf(stderr, "  error was: %s\n", err);
    tg_buf_dispose(&b);
}

/* ---- the values the counting rule reads: severity words, number text, scores ---- */

static const struct {
    const char *in;
    enum tg_severity want;
} buckets[] = {
    {"CRITICAL", TG_SEV_CRITICAL},
    {" high\n", TG_SEV_HIGH},
    {"Medium", TG_SEV_MEDIUM},
    {"low", TG_SEV_LOW},
    {"Info", TG_SEV_INFO},
    {"Negligible", TG_SEV_INFO},
    {"Undefined", TG_SEV_UNKNOWN},
    {"", TG_SEV_UNKNOWN},
    {"informational", TG_SEV_UNKNOWN},
    {"\xe2\x80\x83LOW", TG_SEV_LOW},
};

static const struct {
    double v;
    const char *want;
} float_texts[] = {
    {2.1, "2.1"},    {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {0.0001, "0.0001"},
    {1e-5, "1e-05"}, {-0.0, "-0.0"},  {123.456, "123.456"},         {1.5e300, "1.5e+300"},
    {2.0, "2.0"},    {0.1, "0.1"},
};

/* security-severity strings: 1 + bucket, or 0 when the level decides */
static const struct {
    const char *in;
    int want;
} scores[] = {
    {"9.8", 1 + TG_SEV_CRITICAL},
    {" 7.0\n", 1 + TG_SEV_HIGH},
    {"\xc2\xa0"
     "10"
     "\xe3\x80\x80",
     1 + TG_SEV_CRITICAL},
    {"4", 1 + TG_SEV_MEDIUM},
    {"0.1", 1 + TG_SEV_LOW},
    {"0", 1 + TG_SEV_INFO},
    {"10.0", 1 + TG_SEV_CRITICAL},
    {"HIGH", 1 + TG_SEV_HIGH},
    {" critical ", 1 + TG_SEV_CRITICAL},
    {"1_0", 0},
    {"1e1", 0},
    {"NaN", 0},
    {"Infinity", 0},
    {"-1", 0},
    {"10.5", 0},
    {".5", 0},
    {"5.", 0},
    {"1.2.3", 0},
    {"", 0},
    {"+7", 0},
    {"0x10", 0},
    {"\xd9\xa3", 0},
    {"negligible", 0},
    {"bogus", 0},
};

static void check_value_rules(void)
{
    char out[48];
    struct tg_buf scratch;
    tg_buf_init(&scratch);
    for (size_t i = 0; i < TG_ARRAY_SIZE(buckets); i++)
        UNIT_CHECK(buckets[i].in,
                   tg_severity_bucket(buckets[i].in, strlen(buckets[i].in)) == buckets[i].want);
    for (size_t i = 0; i < TG_ARRAY_SIZE(float_texts); i++) {
        rp_float_text(float_texts[i].v, out, sizeof out);
        UNIT_STREQ(float_texts[i].want, out, float_texts[i].want);
    }
    for (size_t i = 0; i < TG_ARRAY_SIZE(scores); i++)
        UNIT_CHECK(scores[i].in, rp_score_bucket(&scratch, RK_STR, scores[i].in,
                                                 strlen(scores[i].in), 0) == scores[i].want);
    UNIT_CHECK("score 9.1",
               rp_score_bucket(&scratch, RK_NUM, "9.1", 3, 9.1) == 1 + TG_SEV_CRITICAL);
    UNIT_CHECK("score -0.5", rp_score_bucket(&scratch, RK_NUM, "-0.5", 4, -0.5) == RP_SCORE_NONE);
    UNIT_CHECK("score 11", rp_score_bucket(&scratch, RK_NUM, "11", 2, 11) == RP_SCORE_NONE);
    UNIT_CHECK("score inf",
               rp_score_bucket(&scratch, RK_NUM, "1e999", 5, INFINITY) == RP_SCORE_NONE);
    UNIT_CHECK("score true", rp_score_bucket(&scratch, RK_TRUE, NULL, 0, 1) == RP_SCORE_NONE);
    enum tg_severity sev;
    enum tg_report_format fmt;
    UNIT_CHECK("severity parse", tg_severity_parse("high", &sev) == 0 && sev == TG_SEV_HIGH);
    UNIT_CHECK("severity parse is strict", tg_severity_parse("High", &sev) < 0);
    UNIT_CHECK("format parse",
               tg_report_format_parse("sarif", &fmt) == 0 && fmt == TG_REPORT_SARIF);
    UNIT_STREQ("format name", tg_report_format_name(TG_REPORT_GRYPE), "grype");
    tg_buf_dispose(&scratch);
}

int main(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++)
        check_row(&rows[i]);
    for (size_t i = 0; i < TG_ARRAY_SIZE(top_rows); i++)
        check_top(&top_rows[i]);
    for (size_t i = 0; i < TG_ARRAY_SIZE(big_rows); i++)
        check_big(&big_rows[i]);
    check_value_rules();
    return unit_summary("test_reports");
}
