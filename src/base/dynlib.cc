#include "base/dynlib.h"

#include <dlfcn.h>

namespace pgkeeper {

void* OpenLibrary(const char* soname, const char* package, std::string* error) {
  void* lib = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    *error = std::string("cannot load ") + soname + " (Debian's " + package + "): " +
             (why ? why : "unknown error");
  }
  return lib;
}

void* FindFunction(void* lib, const char* soname, const char* name, std::string* error) {
  void* fn = ::dlsym(lib, name);
  if (fn == nullptr && error->empty()) *error = std::string(soname) + " lacks " + name;
  return fn;
}

}  // namespace pgkeeper
