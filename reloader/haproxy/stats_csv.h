#pragma once
// HAProxy's stats CSV in the shape HAProxy 2.0 served it, for marathon-lb's clients
// (its deploy tool builds a namedtuple from the header: HAProxy 2.4+ adds a column
// named "-" before the module counters, which is no identifier). The columns are kept
// up to and including `need_conn_est`, 2.0's last; HAProxy only ever appends columns,
// so the kept ones are 2.0's, in 2.0's order.
#include <string>

namespace mlb::reloader {

// `show stat` output (or /haproxy?stats;csv) cut to HAProxy 2.0's columns: the header
// and every row keep their first N fields and their trailing comma; blank lines are
// dropped. A CSV without `need_conn_est` is cut before a "-" column, or kept whole. Pure.
std::string haproxy20StatsCsv(const std::string& csv);

}  // namespace mlb::reloader
