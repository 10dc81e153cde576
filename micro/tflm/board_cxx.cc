// C++ support for sbtf's board images (micro/boards/startup.c, linked with -nostartfiles).
// -nostartfiles drops crtbegin.o, which defines __dso_handle: the handle every C++ static object
// with a destructor (TFLM has some) registers against through __cxa_atexit. Without it the link
// fails with "undefined reference to `__dso_handle'".
extern "C" {
void* __dso_handle = &__dso_handle;
}
