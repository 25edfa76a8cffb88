// Helpers shared by the config unit tests: temporary directories and files.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace colony::config::testing {

/// A fresh directory under the temp directory, removed with its contents at the end.
class temp_dir {
public:
  temp_dir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path()
            / ("colony_cfg_" + std::to_string(::getpid()) + "_"
               + (info ? std::string{info->name()} : std::string{"x"}) + "_"
               + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  /// Writes `content` to `name` in this directory; returns the full path.
  std::string write(const std::string& name, const std::string& content) const {
    auto p = file(name);
    std::ofstream f{p, std::ios::binary};
    f << content;
    return p;
  }

private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream f{path, std::ios::binary};
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace colony::config::testing
