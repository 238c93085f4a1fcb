#include "reloader/haproxy/stats_csv.h"

#include <gtest/gtest.h>

namespace mlb::reloader {
namespace {

// HAProxy 2.6.12's header, shortened in the middle (the cut only looks at names).
const char* const kHeader26 =
    "# pxname,svname,qcur,status,weight,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,"
    "need_conn_est,uweight,agg_server_status,agg_check_status,srid,proto,-,ssl_sess,"
    "h2_headers_rcvd,\n";

TEST(StatsCsvTest, KeepsHaproxy20sColumnsWithTheTrailingComma) {
  const std::string csv = std::string(kHeader26) +
                          "web_10001,127_0_0_1_31001,0,MAINT,1,0,0,0,0,0,1,,,,,,0,0,\n"
                          "web_10001,BACKEND,0,UP,1,0,,,,,,,,,,,,,\n\n";
  EXPECT_EQ(haproxy20StatsCsv(csv),
            "# pxname,svname,qcur,status,weight,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,"
            "need_conn_est,\n"
            "web_10001,127_0_0_1_31001,0,MAINT,1,0,0,0,0,0,\n"
            "web_10001,BACKEND,0,UP,1,0,,,,,\n");
}

TEST(StatsCsvTest, WithoutNeedConnEstCutsBeforeTheDashColumn) {
  EXPECT_EQ(haproxy20StatsCsv("# pxname,svname,-,h2,\nb,s1,,0,\n"), "# pxname,svname,\nb,s1,\n");
}

TEST(StatsCsvTest, AlreadyInTheOldShapeIsUnchanged) {
  const std::string old = "# pxname,svname,status,\nb,s1,UP,\n";
  EXPECT_EQ(haproxy20StatsCsv(old), old);
}

TEST(StatsCsvTest, AShortRowKeepsWhatItHasAndEndsWithAComma) {
  EXPECT_EQ(haproxy20StatsCsv("# a,b,need_conn_est,x,\nr1,r2\n"), "# a,b,need_conn_est,\nr1,r2,\n");
}

// A quoted field with a comma (a check's reason, a description) is one field.
TEST(StatsCsvTest, QuotedCommasAreInsideTheirField) {
  EXPECT_EQ(haproxy20StatsCsv("# pxname,svname,last_chk,need_conn_est,uweight,\n"
                              "b,s1,\"Layer7, \"\"bad\"\" status\",0,1,\n"),
            "# pxname,svname,last_chk,need_conn_est,\n"
            "b,s1,\"Layer7, \"\"bad\"\" status\",0,\n");
}

TEST(StatsCsvTest, EmptyStaysEmpty) { EXPECT_EQ(haproxy20StatsCsv(""), ""); }

}  // namespace
}  // namespace mlb::reloader
