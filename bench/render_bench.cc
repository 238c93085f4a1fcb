// Render pipeline benchmark (prints figures; not a timed test).
//
// For N = 100, 1000, 5000 apps (bench/gen_fixture.py --apps N --seed 1), measures
// the whole pipeline on a /v2/apps answer already in memory: parseApps ->
// buildServices -> renderConfig, as mlb-controller runs it. Each N runs in a fresh child process so
// that peak RSS (ru_maxrss) is that of one pipeline (input bytes included); the child runs the
// pipeline several times and reports median wall and CPU time. Beside it, the whole
// `mlb render` process on the same fixture (start-up, reading the file, writing the
// outputs): its CPU (user + sys, from wait4) and peak RSS, median of the same runs.
//
//   render_bench [--smoke] [--runs R] [--fixtures DIR] [--mlb PATH]
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "controller/marathon/app_json.h"
#include "controller/model/service_builder.h"
#include "controller/render/config_renderer.h"

using namespace mlb::controller;

namespace {

double cpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The process's peak resident set so far (VmHWM), in kB.
long peakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::atol(line.c_str() + 6);
    }
  }
  return 0;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

struct Figures {
  double wall_ms = 0, cpu_ms = 0, cpu_min_ms = 0, parse_ms = 0, build_ms = 0, render_ms = 0;
  long max_rss_kb = 0;
  long hwm_parse_kb = 0, hwm_build_kb = 0, hwm_render_kb = 0;  // first run, after each phase
  size_t bytes = 0, apps = 0, services = 0, servers = 0, config_bytes = 0;
};

// Runs in the child: load once, run the pipeline `runs` times, write figures to fd.
int child(const std::string& path, int runs, int fd) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return 3;
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  in.seekg(0);
  std::string body;
  body.reserve(size + kJsonPadding);
  body.resize(size);
  in.read(body.data(), static_cast<std::streamsize>(size));
  auto templates = TemplateSet::load("", {});
  if (!templates) {
    return 4;
  }
  BuildOptions build;
  build.groups = {"*"};
  build.health_check = true;
  RenderOptions render;
  std::vector<double> wall, cpu, parse, bld, rnd;
  Figures f;
  f.bytes = size;
  for (int i = 0; i < runs; ++i) {
    const auto w0 = std::chrono::steady_clock::now();
    const double c0 = cpuSeconds();
    auto parsed = parseApps(body);
    if (!parsed) {
      return 5;
    }
    const auto w1 = std::chrono::steady_clock::now();
    if (i == 0) {
      f.hwm_parse_kb = peakRssKb();
    }
    ServiceModel model = buildServices(parsed->apps, build);
    const auto w2 = std::chrono::steady_clock::now();
    if (i == 0) {
      f.hwm_build_kb = peakRssKb();
    }
    auto rendered = renderConfig(model, *templates, render);
    if (!rendered) {
      return 6;
    }
    const auto w3 = std::chrono::steady_clock::now();
    const double c1 = cpuSeconds();
    if (i == 0) {
      f.hwm_render_kb = peakRssKb();
    }
    auto ms = [](auto a, auto b) {
      return std::chrono::duration<double, std::milli>(b - a).count();
    };
    wall.push_back(ms(w0, w3));
    cpu.push_back((c1 - c0) * 1000);
    parse.push_back(ms(w0, w1));
    bld.push_back(ms(w1, w2));
    rnd.push_back(ms(w2, w3));
    f.apps = parsed->apps.size();
    f.services = model.services.size();
    f.servers = 0;
    for (const Service& s : model.services) {
      f.servers += s.servers.size();
    }
    f.config_bytes = rendered->config.size();
  }
  f.wall_ms = median(wall);
  f.cpu_ms = median(cpu);
  f.cpu_min_ms = *std::min_element(cpu.begin(), cpu.end());
  f.parse_ms = median(parse);
  f.build_ms = median(bld);
  f.render_ms = median(rnd);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  f.max_rss_kb = ru.ru_maxrss;
  if (write(fd, &f, sizeof f) != static_cast<ssize_t>(sizeof f)) {
    return 7;
  }
  return 0;
}

struct ProcessFigures {
  double cpu_ms = 0, cpu_min_ms = 0, wall_ms = 0;
  long max_rss_kb = 0;
};

// `mlb render --apps path --out DIR --group '*' --health-check`, `runs` times.
bool runProcess(const std::string& mlb, const std::string& path, int runs, ProcessFigures& out) {
  char dir[] = "/tmp/mlb-render-bench.XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    return false;
  }
  std::vector<double> cpu, wall;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 2);
      execl(mlb.c_str(), mlb.c_str(), "render", "--apps", path.c_str(), "--out", dir, "--group",
            "*", "--health-check", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    rusage ru{};
    if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      return false;
    }
    wall.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    auto ms = [](const timeval& tv) {
      return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
    };
    cpu.push_back(ms(ru.ru_utime) + ms(ru.ru_stime));
    out.max_rss_kb = std::max(out.max_rss_kb, ru.ru_maxrss);
  }
  std::system((std::string("rm -rf ") + dir).c_str());
  out.cpu_ms = median(cpu);
  out.cpu_min_ms = *std::min_element(cpu.begin(), cpu.end());
  out.wall_ms = median(wall);
  return true;
}

bool runChild(const std::string& path, int runs, Figures& out) {
  int fds[2];
  if (pipe(fds) != 0) {
    return false;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    _exit(child(path, runs, fds[1]));
  }
  close(fds[1]);
  ssize_t n = read(fds[0], &out, sizeof out);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return n == static_cast<ssize_t>(sizeof out) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  int runs = 7;
  std::string dir = std::string(MLB_BINARY_DIR) + "/bench-fixtures";
  std::string mlb = MLB_CLI_BIN;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--smoke") {
      smoke = true;
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--fixtures" && i + 1 < argc) {
      dir = argv[++i];
    } else if (a == "--mlb" && i + 1 < argc) {
      mlb = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: render_bench [--smoke] [--runs R] [--fixtures DIR] [--mlb PATH]\n");
      return 2;
    }
  }
  std::vector<int> sizes = smoke ? std::vector<int>{100} : std::vector<int>{100, 1000, 5000};
  if (smoke) {
    runs = 1;
  }
  std::system(("mkdir -p " + dir).c_str());
  std::printf("pipeline: JSON bytes in memory -> parseApps -> buildServices -> renderConfig\n");
  std::printf(
      "fixtures: gen_fixture.py --apps N --seed 1; --group '*' --health-check; median of %d "
      "runs (CPU min: the fastest run, the machine's noise floor)\n\n",
      runs);
  std::printf("%6s %9s %6s %8s %8s %9s | %9s %9s %9s | %8s %8s %8s | %9s | %s\n", "N", "input MB",
              "apps", "services", "servers", "cfg KB", "wall ms", "CPU ms", "CPU min", "parse",
              "build", "render", "peak RSS", "peak MB after parse/build/render (1st run)");
  std::vector<std::pair<int, ProcessFigures>> processes;
  for (int n : sizes) {
    const std::string path = dir + "/apps-" + std::to_string(n) + ".json";
    if (access(path.c_str(), R_OK) != 0) {
      const std::string cmd = "python3 " + std::string(MLB_SOURCE_DIR) +
                              "/bench/gen_fixture.py --apps " + std::to_string(n) +
                              " --seed 1 --out " + path + " >/dev/null";
      if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "cannot generate %s\n", path.c_str());
        return 1;
      }
    }
    Figures f;
    if (!runChild(path, runs, f)) {
      std::fprintf(stderr, "benchmark child failed for N=%d\n", n);
      return 1;
    }
    auto mb = [](long kb) { return static_cast<double>(kb) / 1024.0; };
    std::printf(
        "%6d %9.1f %6zu %8zu %8zu %9zu | %9.1f %9.1f %9.1f | %8.1f %8.1f %8.1f | %6.1f MB | "
        "%.1f / %.1f / %.1f\n",
        n, static_cast<double>(f.bytes) / 1e6, f.apps, f.services, f.servers, f.config_bytes / 1024,
        f.wall_ms, f.cpu_ms, f.cpu_min_ms, f.parse_ms, f.build_ms, f.render_ms, mb(f.max_rss_kb),
        mb(f.hwm_parse_kb), mb(f.hwm_build_kb), mb(f.hwm_render_kb));
    ProcessFigures p;
    if (!runProcess(mlb, path, runs, p)) {
      std::fprintf(stderr, "%s render failed for N=%d\n", mlb.c_str(), n);
      return 1;
    }
    processes.emplace_back(n, p);
  }
  std::printf("\nthe whole process: %s render --apps FILE --out DIR --group '*' --health-check\n",
              mlb.c_str());
  std::printf("%6s | %9s %9s %9s | %9s\n", "N", "wall ms", "CPU ms", "CPU min", "peak RSS");
  for (const auto& [n, p] : processes) {
    std::printf("%6d | %9.1f %9.1f %9.1f | %6.1f MB\n", n, p.wall_ms, p.cpu_ms, p.cpu_min_ms,
                static_cast<double>(p.max_rss_kb) / 1024.0);
  }
  return 0;
}
