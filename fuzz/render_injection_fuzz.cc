// libFuzzer target: the injection property. The first byte picks a slot (a string
// Marathon sends: an id, a host, an address, a label value, a health-check path),
// the rest is its value; the answer is parsed, built, rendered and the config
// audited against the accepted model (controller/render/config_audit.h). A value
// that adds a line, a section or a directive aborts with the slot and the reason.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "controller/render/injection_check.h"

namespace {

struct Fixture {
  std::unique_ptr<mlb::controller::TemplateSet> templates;
  mlb::controller::Vocabulary vocab;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    auto t = mlb::controller::TemplateSet::load("", {});
    if (!t) {
      std::fprintf(stderr, "cannot load the templates\n");
      std::abort();
    }
    x.templates = std::make_unique<mlb::controller::TemplateSet>(std::move(*t));
    x.vocab = mlb::controller::injection::baseVocabulary(*x.templates);
    return x;
  }();
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  namespace inj = mlb::controller::injection;
  const int slot = data[0] % inj::slotCount();
  const std::string value(reinterpret_cast<const char*>(data + 1), size - 1);
  const Fixture& f = fixture();
  const mlb::common::Status kept = inj::check(slot, value, *f.templates, f.vocab);
  if (!kept) {
    std::fprintf(stderr, "injection through %s: %s\n", inj::slotName(slot).c_str(),
                 kept.error().message.c_str());
    std::abort();
  }
  return 0;
}
