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

}  // namespace pgkeeper

#endif  // PGKEEPER_DYNLIB_H_
