// Real PostgreSQL 15 heap pages (gzip + base64) with the LSNs and checksums PostgreSQL reported, for page.test.ts.
// Made once: initdb -k; CREATE TABLE t (id int PRIMARY KEY, payload text); 500 rows of repeat(md5(id), 3);
// VACUUM (FREEZE) t; CHECKPOINT; pageinspect's page_header() and page_checksum(); clean stop;
// pg_checksums --check (0 bad checksums); then blocks 0-2 of base/5/16427 copied from the file.
import { gunzipSync } from 'node:zlib';

const blob = [
  'H4sIAAAAAAACA+2cV9N1O1Lf1zkMDDBDTkMe8pAldatbTTDOBmcbB8A2WK3utsE5Y2Mze8g55+g4xjmAzQeY7+ArX/hzPNzwaO21',
  'qHKV7nQxN7xVujj1q/f83r23ltK/tY7jON71be9+47fe9Zbj7W883jje+ZZ3Hq9/Hr/6chyv7fErL8fx2h6//HIcr+3xSy/H8doe',
  'v/hyHK/t8Qsvx/HaHj//chyv7fFzL8fx2h4/+3Icr+3xMy/H8doeP/1yHK/t8VMvx/HaHj/5chyv7fETL8fx2h4//nIcr+3xYy/H',
  '8doeP/pyHK/t8SMvx/HaHj/8chyv7fFDL8fx2h4/+HIcr+3xAy/H8doe3/9yHK/t8X0vx/HaHt/7chyv7fE9L8fx2h7f/XIcr+3x',
  'XS/H8doe3/lyHK/t8R0vx/HaHu95Od4ff/7Pm///f3/l8ebx5tvecXzlcRzv4wCJBplDTbO05oGDSnPtqVTJu3zh/4rL/xXTn7ho',
  'gqQ9F9ISqAUYA7CoixviLl/4v/zyf/npFwiqnlrqRWq0xKR5VC6lI/VedvnC/2WX/8umnygSZs/UKUlpmmpnL6X1JgNYZJcv/HL5',
  '5fz9i0LpObii9jySKJBUT0NpmHPs8oW/Xf42/RKUMTWHHkoAXtOwyFqSOQUS7fKFny8/T79WUOhg1FXS8FSolSK55iFqnvMuX/jp',
  '8s9/2/s6NfTh7kwxainMUBr1JlVHQ6BdvvDXy1+n31oZzTJl6dYykxFVrDBCi9caaZcv/Hj58fz9e8615YoWHcvoZmqJBDu6qI22',
  'yxd+uPww/aVBSwU6c7PoPmyUXDi14JKVW9vlC3+5/HNseN9IgweTQVIDG91jCAWmwlVtpL7LF/58+WfffF9g5VGxdjG31iK32ZuQ',
  'M9bOZaRdvvCny5/O8Q+LS/FQFiyZAVubz5Rnz5qb0i5f+L/08n/p6edBPTsPr2RgFJ2xdSWTHhDGu3zh/5LL/yXn8yeGgVK9ce3F',
  'E9eeO3byrMKcYpcv/F98+b/4/PyjAcoYXCh1p+KgGYQa5N5AWuzyhf+LLv8Xnf2PM3MmGA3AIlChxWhWGpfIPmiXL/xfePm/cPoz',
  'O5VMFKPVRnMQsawjeWYsIzXd5Qv/F1z+LzjH/2xpkDeIVBgKW0PKiSCwj9o67fKF//Mv/+dPP2CmzjVweJecpCYefVjzEmUOJrt8',
  '4X/X5X/X2f8Jq5TkIDXcurGquiUfHcKLp12+8H/e5f+8p5+tdcXAkZNGKb1DBS/cWDLA2OUL/+de/s89f//KnHW4gJeUBlDwMLGw',
  '5NW8912+8H/O5f+cp19jiCcWwmhm5io1Rm04TKjaLl/4P/vyf/b5/MnoGZ29E5TWsXhyzWC1VcdRyi5f+D/r8n/W6R/QYMzpk0eR',
  '1rWmItAtfChrbrt84f/My/+Z0+9A0ipYMFF0RM9uKYIyRCVQ2+UL/2dc/s84P38r6mnUYcPq3ExpboTD3HFOZ77LF/53Xv53nvMP',
  'EBpEmnOYzkW0jWgGWgd50pR3+cL/6Zf/08/1V6ZeoaToyLVCMqkNBmAYVPKou3zh/7TL/2nX+Msw5qyVOJqYqesofUguDRLELl/4',
  'P/Xyf+r5/XuXrll7Tx4qniUJIqYBmb1k3eUL/6dc/k85Pz8414gkZpSyqpME1JxAci25yS5f+D/58n/yuf8vzhg5eYLC3Ro1y9Ci',
  'KIYZRdrlC/8nXf5Pmn50hjLcAAkskXkaXXquSrkCMe/yhf8TL/8nTn/zItQTcQeuBMDJ3FKN2kEDfOzyhf8dl/8d5/gTkc2ZMaUa',
  'zXqGwCIIreVBtcYuX/g/4fJ/wtn/mARGDMaWUByrNdY22JpK78N2+cL/8Zf/48/zB5p7CCvR3KqV3BE1eW2NqKWhsssX/o+7/B93',
  'fv5RxUbC5q3VVBDUW2LpdTBaYtnlC//HXv6PPff/LTJwaiWnLDiQKzVWn2vYDtpwly/8H3P5P+bZ/5KDdROR1ABrMM4DzYiuFjFw',
  'ly/8H335P/ocfwOllMBaqWXKvQ0L7FaKSJAV2OUL/0dd/o86z/+Sh0XxIZoaJRaWOhALAWmtobt84f/Iy/+R5/zLaMKasncvlR2x',
  'd7Gq3VxYe+zyhf8jLv9HnP1PA/LgiERFgLqQwWhqOVqUCNjlC/+HX/4PP9ffXaFAk1J0jFI7BSVyraVG2Ki0yxf+D7v8H3Z+/zUP',
  'x5xGLtjnNGZaHVU4RukBsssX/rdf/ref/pK6oTGFC3OV3gv3NEQ0gjinXb7wv+3yv+18/mouaggmo3fyVIZI0tRboVps9F2+8H/o',
  '5f/Qc/8JJojUUumIpQrXatCcLBN4K2mXL/wfcvk/5Fx/1IFtDC9ebGY43nOP+aPOcy0rtMsX/g++/B98/v4SKZrU0Ll5klwlag5L',
  'RdgLkO3yhf+tl/+t5/onMjrWGO49E/fagczNUL2XirDLF/4PuvwfdM4/xJIkj9pbS9GDQqtTauyatdjY5Qv/B17+Dzz3n2gdlEN1',
  'eAGsxjwTNWLskJvVXb7wv+Xyv+Uc/xrPB1V6CXDOJrnlTqxcseRSxi5f+D/g8n/A+fnH0NHYUevwEj53TS1MovQ5fcAuX/jfvPxv',
  'nv2/ZefS5jHuKEFAkWhu5MbI2KiMXb7wv3H53zj9ODoWaD2pFJgDyhg1Safg2lB0l1/Ob/32d7/xf9/6u/n/+z//f+N38v9/dj5/',
  'qaeWAotT5BllFosMEIkhSTXb5Qv/nf//03P+GZVinh5j7yGVofdqEZLBQoT7Ll/47/z/W8/5t2Och0UCzvPIKlotXEWiUyEsu3zh',
  'v/P/f/Ksf/A8jG30GWUSt4QFmXMD5T7m97jHF/47///H0189UhWBpp1Feu8Nq+dRvHWmorbLF/47//9H5/irmZJ5Nm9ikmqLoUmF',
  'mqmqUdvlC/+d///D5/hXM7K5cxHI2aNqHZASCNLAFrt84b/z/39w5s+KKKV1zzlUoOHAEdA4NWIe2Hb5wn/n/3///P3DkgLPLqSq',
  'KcXcNdFwKRq1m+3yhf/O///euf+Ewq1jbySU3LUy9RaGQ3yQCO/yhf/O///us/6JInon1aSYWsqsVMpcPGSSrHWXL/x3/v93zv2H',
  'NKu5Z7HWc8nDa8soYqycMlHb5Qv/nf//7efvLxDSoBY0j1lBgIRIYmWEBPguX/jv/P9vnf2fC1iSogStVU/Go1AaIyX2pmK7fOG/',
  '8/+/ec5/MKiOIoxlpulJwL110Wjd2ZLu8oX/zv//xukXtk5FNElTnv8ntLlzB0cCSbjLF/47//+WM39PAjMps5mi9k6Dhwj16l6h',
  'c4pdvvDf+f83P/ffKu6zXmEMUpVIw0pH5tmpG8UuX/jv/P+vP/efnhNjVIWQGM17rpZr6WaJi+AuX/jv/P+vPZ9/xuG1D6JEOSmi',
  'iUqcIZ5UbLt84b/z/3juf5pUIuAuwo3VsrD3Ycx9DK++yxf+O//38/y5KXhE0x6VqDBy88HUOc0Crlp2+cJ/5/929v8mkkEsqudU',
  'BYQQMubqzGmQ2S5f+O/8f5zP/6DCXfMYakrzHJWcU5lpHmGpussX/jv/1/P3N7AyShbJDupRPZFwhh5zBTv6Ll/47/y/n/7iUQuG',
  'BpiEU85We3NJ4WFDxi5f+O/8/6+e8w9RZasRkkqy0tXDa20spCK14S5f+O/8/5vO86dcFLWXxlHdkw4xBNWoqt44dJcv/Hf+/43P',
  '+j8VH5C6SVCLJlqEQLjRmN0pdvnCf+f/f+WZ/9jwBtYrawKpngmQeIh1ryXrLl/47/z/L5/+MkYpXKFYZq80K1lS0XIWlFpOu3zh',
  'v/P/v3Suv7AU6RojeiUU55RAG5jNcoIiuMsX/jv//4az/1EGadUHimsLrtydEMQbi2rpu3zhv/P/rz/X34QsRMqAMIokbMRQanGU',
  'FAy0yxf+O///uvP57zC3DwKZ5keovQHUzAOrQU6cdvnCf+f/f/GZf3kuKBEjgessopXURgGaM6mQ7fKF/87//8LZ/8G01fm3ZGRo',
  '0OayYYzogsPVZJcv/Hf+/+fP+d9jVm9nCuaapJ0xTkqYch2UZ3nHHl/47/z/z53rr2aQulRBLk0HzAAJ1QUVsljJu3zhv/P/rz3H',
  'X5cYZV7WiEg9MhYlA/Vu0roU2OUL/53//9nz95+F67NwQEZNLanMklJWj1nGBnns8oX/zv//zHn+Bz5qZqOm5GaQclVwG7OuH4h1',
  'ly/8d/7/p5/7H4A+DzAglZSDYX6FiGIJOJVmu3zhv/P/P3WeP+bwzGCpuczlI3cLQM3G7K0Z7/KF/87//+T5/NXA3gypOs3awZFq',
  'wKxopdpGrXmXL/x3/v8nnvcvzMpgqXWeGRFWKpi0RKSckprv8oX/zv//+Pn7q7GAGDGK8DBFkmKA5o0ABu7yhf/O///Y+fsn0cBc',
  'ETsA1Y40JDG7anWoA3b5wn/n/3/03H8Y5a4ZoRTw0FFwsJXaYFbSlZp3+cJ/5/9fc37+YjMzbpESUR3eqIDP2QsdBo+6yxf+O///',
  '6rP/F1VJ3oRnKUUt8zjNek7hRFGy7fKF/87//8hz/zOwJJPSDDXa8BSzmiaLAueacZcv/Hf+/4fP9ddQHZjEZ91CZBncxrw6lD3N',
  'f3/d5Qv/nf//oTP/Ro15epqxcXWsOu+Ntl6yG7SEtMsX/jv//4PP878ASdaa4yzmmgcIGr1E1hqNTXf5wn/n/3/gef5dVZLiLN8q',
  '1Y0GBHFrWZQ81bbLF/47///9z/4vdZ6XDA0cfW7nYQDp/OePMjTv8oX/zv9/3zn+DpQ0OtaRks6VrKpDrdgxbBYz7PKF/87/f+/5',
  '/PVqJfJASq3AvEBl0DuYSPM5u+3yhf/O/7/qzP+gh6kROUsRzaVGq8INMHqDjrt84b/z/99zrr8wqEFvmAkUaoEeXnkUT6npaGOX',
  'X9b/9553v/He9/5u/v/+z//f/J38/zfP/aebq5LP+3IVRD3agJAsjdHFeJcv/Hf+/7+v/F/NGXuLnBPN6l2U8/wSuKUku3zhv/P/',
  '//Ucf0rJkISRUoY+asXKOdRyS55H2+UL/53//8b5/GPNmTV56jn3gkWFqTrL0MgZYpcv/Hf+/+vP+rc6h/DO0LihzEPz0WxOI4Nz',
  'wtjlC/+d///Pp7/VmlmIWaq7B9EopQa3BmpDd/nCf+f//+Pc/5L1ElXSMC5IquYp1ZyQNRkF7/KF/87///sz/+gxz9BQqVqKuXAE',
  'MEhmTIjFd/nCf+f//+38/kumXLC0MhNjcOojZN7mFSw9O+7yhf/O///ref8h5vsSSCi4gypySiPMPLJELxC7fOG/8///8rx/7DRa',
  'rQmHk7eCWMa8N82jUaJIu3zhv/P//3zdf2mdtdrgPjfzyY1q773ISKjZd/nCf+f//+lc/2JPWEZgGGkoMqc8Kxp7pgrd+i5f+O/8',
  '/z8+1//i8+HtVZqEAZbuiGWWb1Fr1Hb5wn/n///hfP4IaJYO5Fm36li0ijGOiHMUV9jlC/+d///aOf4nilpccip93lucNaSVMgYW',
  '7dJkly/8d/7/78/8oXHr3LVhKAKmkhONypVqQy7Rd/nCf+f/7z33P85ceXbk0nUow7zD2blihFLmvssX/jv//3fP80+iWjiKVgOX',
  'atgZIEYosxr7Ll/47/z/357jT+dxJkW99h4NOLm6deQ+b7YN2OUL/53//5tn/SGz1ZHZMBFpK13nawyizdcXBcUuX/jv/P9fP+ef',
  '3lFTD8BRIEOvVBKTSPGaeoddvvDf+f+/OuefWSrWlSHFPM0saea24iOZJJtP8CZf+O/8/1+efobhIG2ARE3UgynbfI2PtQpdyi5f',
  '+O/8/1ef428KEhKrJcN8a8DwBBnbfJUHUvZdvvDf+f+vnP2PMAkRlEI9SkDOiK32jp56AcVdvvDf+f8vP99/gsqUe2kzQgwXaJAd',
  'QjGl4Y13+cJ/5/+/9Hz/gPSRcpUhaM3S0BleMCDWHsX6Ll/47/z/F5/5J4v3wqOwzNf2BM6di6ZmVDSlvssX/jv//4Xz8xsHdx15',
  'Fu4iCNdEFUQ02Vxd+i5f+O/8/+fP5w8cHAQGs0PtOM/zxjy+xCJzVbXLF/47//+55/3jzijWUnMklNrnHWavUIslGN13+cJ/5/8/',
  '+7x/E7m69ZZGTd00OWdB6DbajFBjly/8d/7/M8/5PyjV+coe7RVLNRKqMUfVFuo5dvnCf+f/P33Ov6VkTlRc+gzP8ixgLeJsnHTQ',
  '6Lt84b/z/586zz/YssssXIchgxgLGsx3GGCeibLv8oX/zv9/8px/rbpUjiLcBHBW8EmbR4cpOmGGXb7w3/n/TzzfP+MpZSjAs1wU',
  'ckrznVaNOwyJxrrLF/47///xZ/19QUOpqZbehhNBbWcVuTbJZbRdvvDf+f+PnfNfTzJaQ9TeZi0tjZJmpJgzJCOlXb7w3/n/j57r',
  '3wQzOC01RgeX1ua13ZKroVdEg12+8N/5/488xx/tvVKtGEJA0lXAMUA1URul7PKF/87/f/j8/qM0rYaiM8Dv4T5M6py9pVvg2OUL',
  '/53//9A5/8E8rke3Oou5ERplimA1hfNVArt84b/z/x8884+UrCdQarUns9xCqafWI0kB87TLF/47//+B8/vPYJg4E/nAWcPm56FG',
  'G+rzDpPs8oX/zv+//5x/Z5flaM11aG1jXl2BolJZKQDKLl/47/z/+87xv/TkubWoCUAHVY1m3KjMNfxA3+UL/53/f+/z/ks2L+Jk',
  '8w5JKVrzoJZSdvbkFXf5wn/n/9/zfP9OLaUXLVwoNM2upFmiWDOZd0p2+cJ/5//f/Xz/7ADjXOdpCczXqXJyIEtuPC+3wi5f+O/8',
  '/7ue9x/MrUKFUd2xWVI2bKNK1hYIaZcv/Hf+/53n+NOjA3YOaeje1VRTZ0PBDMW97vKF/87/v+P5/o1G+SwkyZIqjwhOzFJ4Hqb0',
  'Trt84b/z//dc9VcouWNCo1axtSQIXgeM+UaHUnf5wn/n/49n/auNWbROrr3HIBojNZbBWavpjNb3+MJ/5//vft7/qOZj9DoL+Unn',
  'u3u8ODtrH0NmKckeX/jv/P/bn/t/SVWUPRqmSGMmeRl9SAFW8rHLF/47//8X5/g/o4KG3VrMiumIQtKoeGcGAbNdvvDf+f8/f97/',
  'j3CZx6iaC0WuZX6R8y4vkiLWXb7w3/n/t53r31SGCpU+qiSuKoSa5nhmBVA57fJX5W8DHRhQpABgAAA=',
].join('');

/** Blocks 0, 1 and 2 of the relation file, 8192 bytes each, as PostgreSQL wrote them. */
export const realPages: Buffer = gunzipSync(Buffer.from(blob, 'base64'));

/** The relation file the pages come from (relative to the data directory). */
export const realPagesFile = 'base/5/16427';

/** pd_lsn of each block, as pageinspect's page_header(get_raw_page('t', n)).lsn reported it. */
export const realPageLsns = ['0/17F7B28', '0/17F7E78', '0/17F81E0'];

/** pd_checksum stored in each block (block numbers 0, 1, 2). */
export const realPageChecksums = [10491, 2012, 42662];

/** pageinspect's page_checksum(page, blkno) for blocks placed at other block numbers of the relation. */
export const foreignBlockChecksums = [
  { page: 1, blockNo: 131072 * 3 + 1, checksum: 2006 },
  { page: 2, blockNo: 4294967294, checksum: 22876 },
];
