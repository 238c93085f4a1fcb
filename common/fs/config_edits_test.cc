#include "common/fs/config_edits.h"

#include <gtest/gtest.h>

#include "common/testing/fake_file_system.h"

namespace mlb::common {
namespace {

// Pieces of `text` cut at the given offsets.
std::vector<ConfigPiece> cut(const std::string& text, std::vector<size_t> at) {
  std::vector<ConfigPiece> out;
  size_t begin = 0;
  at.push_back(text.size());
  for (size_t end : at) {
    out.push_back({begin, end, sha256(std::string_view(text).substr(begin, end - begin))});
    begin = end;
  }
  return out;
}

// editsFromBase over the pieces of `text`.
bool editsOf(const EditBase& base, const std::string& text, const std::vector<ConfigPiece>& pieces,
             size_t max_bytes, ConfigEdits& out) {
  return editsFromBase(base, pieces, pieceTexts(text, pieces), max_bytes, out);
}

const std::string kBase = "global\n  maxconn 10\nbackend a\n  server a1 127.0.0.1:1\nbackend b\n";
// The base cut in three: global, backend a, backend b.
std::vector<ConfigPiece> threePieces(const std::string& text) {
  return cut(text, {text.find("backend a"), text.find("backend b")});
}

TEST(ConfigEdits, EditsOfTheChangedPiecesRebuildTheText) {
  const EditBase base{"00aa", kBase.size(), threePieces(kBase)};
  const std::string next =
      "global\n  maxconn 10\nbackend a\n  server a1 127.0.0.1:1\n  server a2 127.0.0.1:2\n"
      "backend b\n";
  ConfigEdits e;
  ASSERT_TRUE(editsOf(base, next, threePieces(next), 1 << 20, e));
  ASSERT_EQ(e.edits.size(), 1u);  // the first and last pieces are the base's
  const std::string file = formatConfigEdits(e);
  auto parsed = parseConfigEdits(file);
  ASSERT_TRUE(parsed) << parsed.error().message;
  auto text = applyConfigEdits(kBase, *parsed);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, next);
}

TEST(ConfigEdits, PiecesThatDoNotLineUpOrTooManyBytesMakeNoEdits) {
  const EditBase base{"00aa", kBase.size(), threePieces(kBase)};
  const std::string next = kBase + "backend c\n";
  ConfigEdits e;
  EXPECT_FALSE(editsOf(base, next, cut(next, {20, 54, 64}), 1 << 20, e));
  EXPECT_FALSE(editsOf(base, next, threePieces(next), 5, e));
  EXPECT_TRUE(editsOf(base, next, threePieces(next), 100, e));
}

TEST(ConfigEdits, EditsApplyToTheirBaseOnly) {
  const EditBase base{"00aa", kBase.size(), threePieces(kBase)};
  std::string next = kBase;
  next.replace(0, 6, "GLOBAL");
  ConfigEdits e;
  ASSERT_TRUE(editsOf(base, next, threePieces(next), 1 << 20, e));
  std::string other = kBase;
  other[1] = 'X';  // same size, other bytes where the edit applies
  auto text = applyConfigEdits(other, e);
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("differs at byte 0"), std::string::npos);
  EXPECT_FALSE(applyConfigEdits(kBase + "\n", e));  // another size
}

TEST(ConfigEdits, MalformedFilesAreRefusedWithTheReason) {
  for (const std::string& bad :
       {std::string("garbage"), std::string("mlb-config-edits 1\nbase ../x 3\nend\n"),
        std::string("mlb-config-edits 1\nbase 00aa 3\nedit 0 1 zz 1\nx\nend\n"),
        std::string("mlb-config-edits 1\nbase 00aa 3\nedit 0 1 ") + std::string(64, 'a') +
            " 10\nx\nend\n",
        std::string("mlb-config-edits 1\nbase 00aa 3\n")}) {
    EXPECT_FALSE(parseConfigEdits(bad)) << bad;
  }
  ConfigEdits overlapping{"00aa", 5, {{2, 2, {}, "x"}, {1, 1, {}, "y"}}};
  EXPECT_FALSE(applyConfigEdits("abcde", overlapping));
  ConfigEdits past{"00aa", 5, {{4, 3, {}, "x"}}};
  EXPECT_FALSE(applyConfigEdits("abcde", past));
  ConfigEdits beyond{"00aa", 5, {{9, 0, sha256(""), "x"}}};  // offset past the end
  EXPECT_FALSE(applyConfigEdits("abcde", beyond));
  ConfigEdits wraps{"00aa", 5, {{SIZE_MAX, 1, {}, "x"}}};
  EXPECT_FALSE(applyConfigEdits("abcde", wraps));
  // A length that would wrap: cut short, not the rest of the file read as its text.
  EXPECT_FALSE(parseConfigEdits("mlb-config-edits 1\nbase 00aa 5\nedit 0 0 " + sha256Hex("") +
                                " 18446744073709551615\nend\n"));
}

TEST(ConfigEdits, ABundleReadsAsItsBaseWithItsEditsAndIsWrittenOutOnce) {
  const EditBase base{"00aa", kBase.size(), threePieces(kBase)};
  std::string next = kBase;
  next.replace(next.find("backend a"), 9, "backend z");
  ConfigEdits e;
  ASSERT_TRUE(editsOf(base, next, cut(next, {kBase.find("backend a"), kBase.find("backend b")}),
                      1 << 20, e));
  testing::FakeFileSystem fs({{"/s/bundles/00aa/haproxy.cfg", kBase},
                              {"/s/bundles/00bb/haproxy.cfg.edits", formatConfigEdits(e)}});
  auto text = readBundleConfig("/s/bundles/00bb", fs);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, next);
  ASSERT_TRUE(fs.replaceSymlink("bundles/00bb", "/s/current"));
  EXPECT_EQ(*readBundleConfig("/s/current", fs), next);
  EXPECT_EQ(bundleBase("/s/bundles/00bb", fs), "00aa");
  EXPECT_EQ(bundleBase("/s/bundles/00aa", fs), "");
  ASSERT_TRUE(materializeBundleConfig("/s/bundles/00bb", fs));
  EXPECT_EQ(*fs.readFile("/s/bundles/00bb/haproxy.cfg"), next);
  EXPECT_FALSE(readBundleConfig("/s/bundles/00cc", fs));
}

TEST(ConfigEdits, AMissingBaseIsAnErrorNamingIt) {
  testing::FakeFileSystem fs(std::map<std::string, std::string>{
      {"/s/bundles/00bb/haproxy.cfg.edits", "mlb-config-edits 1\nbase 00aa 3\nend\n"}});
  auto text = readBundleConfig("/s/bundles/00bb", fs);
  ASSERT_FALSE(text);
  EXPECT_NE(text.error().message.find("base bundle 00aa"), std::string::npos);
  EXPECT_FALSE(materializeBundleConfig("/s/bundles/00bb", fs));
}

}  // namespace
}  // namespace mlb::common
