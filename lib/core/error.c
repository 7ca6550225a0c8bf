/*
 * error.c - the library's version and the text of its error codes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "coco_internal.h"

unsigned int coco_version(void)
{
    return COCO_VERSION_HEX;
}

const char *coco_strerror(int error_code)
{
    switch (error_code) {
    case COCO_OK:                   return "success";
    case COCO_ERROR:                return "error";
    case COCO_ERROR_NOMEM:          return "out of memory";
    case COCO_ERROR_STACK_OVERFLOW: return "stack overflow";
    case COCO_ERROR_CHANNEL_CLOSED: return "channel closed";
    case COCO_ERROR_INVALID:        return "invalid argument";
    case COCO_ERROR_TIMEOUT:        return "timed out";
    case COCO_ERROR_WOULDBLOCK:     return "operation would block";
    case COCO_ERROR_DEADLOCK:       return "all coroutines are waiting and nothing can wake them";
    default:                        return "unknown error";
    }
}
