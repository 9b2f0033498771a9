/** Caller buffers (iov_iter): heap memory or a mapping; owns nothing but the copy rules (faults or nofault). */
package org.iomapfs.core.uio;
