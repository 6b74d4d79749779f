// Libraries pgkeeper loads when it first needs them rather than linking
// them: libpq (pg.cc), libmicrohttpd (api.cc) and libcurl (etcd.cc). Each
// library linked in costs every start of the binary its page faults, the
// libraries it pulls in included, and most commands use none of them.
#ifndef PGKEEPER_DYNLIB_H_
#define PGKEEPER_DYNLIB_H_

#include <string>

namespace pgkeeper {

// Opens soname (RTLD_NOW | RTLD_LOCAL). nullptr on failure, with *error
// naming the library and the Debian package that has it.
void* OpenLibrary(const char* soname, const char* package, std::string* error);

// Looks name up in lib into *fn; when it is missing and *error is still
// empty, *error says which.
void* FindFunction(void* lib, const char* soname, const char* name, std::string* error);
template <typename F>
void LoadFunction(void* lib, const char* soname, const char* name, F* fn, std::string* error) {
  *fn = reinterpret_cast<F>(FindFunction(lib, soname, name, error));
}

// Declares struct Type, holding a pointer named after each function of
// FUNCTIONS (an X-macro list: FUNCTIONS(X) expands X(name) for each) and
// `error` (why the library could not be loaded; empty when it was), and
// `const Type& Get()`, which loads SONAME (Debian's PACKAGE) at its first
// call, once, and returns the table. For use inside an unnamed namespace.
#define PGK_DYNLIB_POINTER(name) decltype(&::name) name = nullptr;
#define PGK_DYNLIB_LOAD(name) LoadFunction(lib, soname, #name, &t.name, &t.error);
#define PGK_DYNAMIC_LIBRARY(Type, Get, SONAME, PACKAGE, FUNCTIONS)     \
  struct Type {                                                        \
    FUNCTIONS(PGK_DYNLIB_POINTER)                                      \
    std::string error;                                                 \
  };                                                                   \
  const Type& Get() {                                                  \
    static const Type table = [] {                                     \
      Type t;                                                          \
      const char* soname = SONAME;                                     \
      void* lib = OpenLibrary(soname, PACKAGE, &t.error);              \
      if (lib != nullptr) {                                            \
        FUNCTIONS(PGK_DYNLIB_LOAD)                                     \
      }                                                                \
      return t;                                                        \
    }();                                                               \
    return table;                                                      \
  }

}  // namespace pgkeeper

#endif  // PGKEEPER_DYNLIB_H_
