// Xen's errno values as hypercalls return them (negated in rax). Follows xen/include/public/errno.h (x86: Linux values).

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  ETIME: 62,
  EOVERFLOW: 75,
  ERESTART: 85,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110,
} as const;

export type ErrnoName = keyof typeof Errno;
export type ErrnoValue = (typeof Errno)[ErrnoName];

/** "EINVAL" for 22; "errno 123" for a value not in the table. */
export function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(Errno)) if (value === errno) return name;
  return `errno ${errno}`;
}
