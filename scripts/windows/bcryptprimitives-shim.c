/* bcryptprimitives.dll for a Wine test prefix: Wine 8 has no such DLL, and Rust's standard
 * library on Windows imports ProcessPrng from it, so every Rust .exe fails to start (status
 * c0000135). This shim forwards to BCryptGenRandom with the system RNG, which Wine has.
 * Test setup only (scripts/windows/wine-prefix.sh builds it into the prefix); never shipped. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    /* BCryptGenRandom takes a ULONG length; fill larger requests in pieces. */
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
