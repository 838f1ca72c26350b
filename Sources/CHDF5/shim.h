// HDF5 (Debian libhdf5-dev, serial). Swift cannot import H5T_NATIVE_* and H5P_DEFAULT,
// which are macros over library globals, so they are re-exported as inline functions.
#include <hdf5.h>

static inline hid_t graft_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t graft_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t graft_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t graft_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t graft_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t graft_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t graft_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t graft_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t graft_H5P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t graft_H5P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t graft_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t graft_H5S_ALL(void) { return H5S_ALL; }
static inline unsigned graft_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned graft_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned graft_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
static inline hid_t graft_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline size_t graft_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hid_t graft_H5E_DEFAULT(void) { return H5E_DEFAULT; }
